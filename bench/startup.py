"""Cold start of the command line: `archspec shapes`, `validate` and `--help` as whole processes, beside
Keras building the same network, the floor any program with these dependencies pays, and the import profile.

    .venv/bin/python bench/startup.py                    # archspec commands: median of 5; Keras: median of 3
    .venv/bin/python bench/startup.py -k 1               # one timed Keras run (after its warm-up)
    .venv/bin/python bench/startup.py --before ca9755e   # the same commands from an older commit, in the same rounds

Every timed run is a fresh process from spawn to exit, output to /dev/null, after one untimed warm-up
of each command (disk cache, .pyc files). The commands take turns round by round, so drift in the
machine's load hits them alike. Measured in this one run:
- the floor: `python -c pass`; Python importing PyYAML, click and Pydantic; the same plus one Pydantic
  model (the machinery any Pydantic validation loads);
- `archspec --help`, `archspec shapes SPEC`, `archspec validate specs/*.yaml` (the `archspec` console script);
- Keras: `keras.applications.APP(weights=None)` then `model.summary()`;
- with --before REF: the archspec commands run from REF's tree (git archive), on the same spec files.
Then the import profile of `archspec shapes SPEC` (python -X importtime, median of 3 runs).
Checks: both sides count the same parameters; `shapes` imports no TensorFlow, Keras or NumPy.
Targets (ResNet-152): shapes at most 0.15 s and at least 40x faster than Keras; validate of the
whole zoo at most 0.5 s; --help at most 0.12 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict
from pathlib import Path

from _proc import ROOT, archspec_cmd, child_env, fmt_times, machine_note, median, run_child, target

SHAPES_S, RATIO, VALIDATE_S, HELP_S = 0.15, 40.0, 0.5, 0.12

# The CLI in-process, as the console script runs it; then which heavy modules it pulled in.
PROBE = """
import contextlib, io, sys
from archspec.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(["shapes", {spec!r}])
print("exit", code)
print("imported", *[m for m in ("tensorflow", "keras", "jax", "torch", "numpy") if m in sys.modules])
"""

KERAS = """
import keras
model = keras.applications.{app}(weights=None)
model.summary()
print("PARAMS", model.count_params())
"""

FLOOR = {
    "python -c pass": "pass",
    "python: import yaml, click, pydantic": "import yaml, click, pydantic",
    "python: the same + one Pydantic model": (
        "import yaml, click\nfrom pydantic import BaseModel, Field\n"
        "class M(BaseModel):\n    a: int = Field(1, gt=0)\nM(a=2)\n"
    ),
}


def default_spec() -> tuple[str, str]:
    if (ROOT / "specs" / "resnet152.yaml").exists():
        return "specs/resnet152.yaml", "ResNet152"
    return "specs/resnet50.yaml", "ResNet50"


def checkout_of(ref: str, into: Path) -> Path:
    """REF's tree, extracted from git (no checkout, no change to this working tree)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref], capture_output=True, check=True
    ).stdout
    with tempfile.TemporaryFile() as f:
        f.write(archive)
        f.seek(0)
        with tarfile.open(fileobj=f) as tar:
            tar.extractall(into, filter="data")
    return into


def import_profile(cmd: list[str], runs: int) -> tuple[dict[str, float], float]:
    """Median self time (ms) of each module imported by `cmd`, and the median total of those self times."""
    per_run: list[dict[str, float]] = []
    for _ in range(runs):
        env = child_env({**os.environ, "PYTHONPROFILEIMPORTTIME": "1"})
        err = subprocess.run(
            cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        ).stderr
        found = {}
        for line in err.splitlines():
            if line.startswith("import time:") and "self [us]" not in line:
                self_us, _, name = line.split(":", 1)[1].split("|")
                found[name.strip()] = int(self_us) / 1000
        per_run.append(found)
    modules = {m for run in per_run for m in run}
    profile = {m: median([run.get(m, 0.0) for run in per_run]) for m in modules}
    return profile, median([sum(run.values()) for run in per_run])


def package_of(module: str) -> str:
    top = module.split(".")[0]
    return "(standard library)" if top in sys.stdlib_module_names or top.startswith("_sysconfigdata") else top


def print_profile(label: str, profile: dict[str, float], total: float, process: float, top: int) -> None:
    print(
        f"\nimport profile of `{label}` (python -X importtime, self times, median of runs; the profiler adds its own cost):"
    )
    print(f"  imports: {total:.0f} ms of the {process * 1000:.0f} ms the whole process takes untraced")
    by_package: dict[str, float] = defaultdict(float)
    for module, ms in profile.items():
        by_package[package_of(module)] += ms
    ranked = sorted(by_package.items(), key=lambda kv: -kv[1])
    print("  by package: " + ", ".join(f"{name} {ms:.1f}" for name, ms in ranked[:8]) + " (ms)")
    print(f"  top {top} modules:")
    for module, ms in sorted(profile.items(), key=lambda kv: -kv[1])[:top]:
        print(f"    {ms:6.1f} ms  {module}")


def main() -> int:
    spec0, app0 = default_spec()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", help=f"spec file (default {spec0})")
    ap.add_argument("--keras-app", help=f"keras.applications constructor of the same network (default {app0})")
    ap.add_argument(
        "-n", "--repeat", type=int, default=5, help="timed runs of each archspec command and floor (default 5)"
    )
    ap.add_argument("-k", "--keras-repeat", type=int, default=3, help="timed Keras runs (default 3; 0 skips Keras)")
    ap.add_argument("--before", metavar="REF", help="also time the archspec commands of this git commit")
    ap.add_argument("--profile-runs", type=int, default=3, help="runs of the import profile (default 3; 0 skips it)")
    ap.add_argument("--top", type=int, default=12, help="modules listed in the import profile (default 12)")
    args = ap.parse_args()
    if args.spec and not args.keras_app:
        ap.error("--spec needs --keras-app (the equivalent keras.applications model)")
    spec_arg, app = (args.spec, args.keras_app) if args.spec else (spec0, args.keras_app or app0)
    spec = str(Path(spec_arg).resolve())
    zoo = sorted(str(p) for p in (ROOT / "specs").glob("*.yaml"))
    cli = archspec_cmd()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    print(f"archspec: {' '.join(cli)}; python: {sys.executable}\n{machine_note()}")

    with tempfile.TemporaryDirectory(prefix="archspec-before-") as tmp:
        commands: dict[str, tuple[list[str], Path]] = {
            label: ([sys.executable, "-c", code], ROOT) for label, code in FLOOR.items()
        }
        commands["archspec --help"] = ([*cli, "--help"], ROOT)
        commands[f"archspec shapes {spec_arg}"] = ([*cli, "shapes", spec], ROOT)
        commands[f"archspec validate specs/*.yaml ({len(zoo)} specs)"] = ([*cli, "validate", *zoo], ROOT)
        if args.before:
            old = checkout_of(args.before, Path(tmp))
            for label in (
                "archspec --help",
                f"archspec shapes {spec_arg}",
                f"archspec validate specs/*.yaml ({len(zoo)} specs)",
            ):
                commands[f"[{args.before}] {label}"] = (commands[label][0], old)
        keras_cmd = [sys.executable, "-c", KERAS.format(app=app)]

        for cmd, checkout in commands.values():  # warm-up: .pyc files, disk cache
            run_child(cmd, env=env, checkout=checkout)
        if args.keras_repeat:
            run_child(keras_cmd, env=env)
        times: dict[str, list[float]] = {label: [] for label in commands}
        rss: dict[str, list[int]] = {label: [] for label in commands}
        keras_times: list[float] = []
        keras_rss: list[int] = []
        keras_params = None
        for round_ in range(max(args.repeat, args.keras_repeat)):
            if round_ < args.repeat:
                for label, (cmd, checkout) in commands.items():
                    t, m, _ = run_child(cmd, env=env, checkout=checkout)
                    times[label].append(t)
                    rss[label].append(m)
            if round_ < args.keras_repeat:
                t, m, out = run_child(keras_cmd, env=env, capture=True)
                keras_times.append(t)
                keras_rss.append(m)
                keras_params = int(out.rsplit("PARAMS", 1)[1])

    print(f"\nwhole process, median of {args.repeat} (Keras: of {args.keras_repeat}), after one warm-up run of each:")
    width = max(len(label) for label in [*commands, "keras"]) + 2
    for label in commands:
        print(
            f"{label:<{width}} {median(times[label]):6.3f} s  peak RSS {max(rss[label]) / 1024:5.0f} MiB  (runs: {fmt_times(times[label])})"
        )
    if keras_times:
        label = f"keras.applications.{app}(weights=None) + summary()"
        print(
            f"{label:<{width}} {median(keras_times):6.3f} s  peak RSS {max(keras_rss) / 1024:5.0f} MiB  (runs: {fmt_times(keras_times)})"
        )

    shapes_s = median(times[f"archspec shapes {spec_arg}"])
    validate_s = median(times[f"archspec validate specs/*.yaml ({len(zoo)} specs)"])
    help_s = median(times["archspec --help"])
    _, _, out = run_child([*cli, "shapes", spec, "--json"], env=env, capture=True)
    params = json.loads(out)["total_params"]
    _, _, probe = run_child([sys.executable, "-c", PROBE.format(spec=spec)], env=env, capture=True)
    heavy = probe.split("imported", 1)[1].split()
    if args.before:
        for label in (
            "archspec --help",
            f"archspec shapes {spec_arg}",
            f"archspec validate specs/*.yaml ({len(zoo)} specs)",
        ):
            then, now = median(times[f"[{args.before}] {label}"]), median(times[label])
            print(f"{label}: {then:.3f} s at {args.before} -> {now:.3f} s now ({then / now:.1f}x faster)")
    if keras_times:
        same = "the same" if params == keras_params else f"DIFFERENT: archspec {params:,}, keras {keras_params:,}"
        print(f"parameters: {params:,} on both sides" if params == keras_params else f"parameters: {same}")

    if args.profile_runs:
        profile, total = import_profile([*cli, "shapes", spec], args.profile_runs)
        print_profile(f"archspec shapes {spec_arg}", profile, total, shapes_s, args.top)

    print()
    target(
        f"`archspec shapes {spec_arg}`, whole process, at most {SHAPES_S} s",
        f"{shapes_s:.3f} s",
        f"median of {args.repeat}",
        shapes_s <= SHAPES_S,
    )
    if keras_times:
        ratio = median(keras_times) / shapes_s
        target(
            f"... at least {RATIO:.0f}x faster than Keras build + summary()",
            f"{ratio:.1f}x",
            f"Keras {median(keras_times):.2f} s; {params:,} parameters {'on both sides' if params == keras_params else 'DIFFER'}",
            ratio >= RATIO and params == keras_params,
        )
    else:
        target(f"... at least {RATIO:.0f}x faster than Keras build + summary()", "not measured", "-k 0", None)
    target("... importing no TensorFlow, Keras or NumPy", ", ".join(heavy) or "none imported", "", not heavy)
    target(
        f"`archspec validate specs/*.yaml` ({len(zoo)} specs) at most {VALIDATE_S} s",
        f"{validate_s:.3f} s",
        f"median of {args.repeat}",
        validate_s <= VALIDATE_S,
    )
    target(f"`archspec --help` at most {HELP_S} s", f"{help_s:.3f} s", f"median of {args.repeat}", help_s <= HELP_S)
    floor = median(times["python: import yaml, click, pydantic"])
    target(
        "floor: Python importing PyYAML, click and Pydantic",
        f"{floor:.3f} s",
        f"+ one Pydantic model: {median(times['python: the same + one Pydantic model']):.3f} s; `python -c pass`: {median(times['python -c pass']):.3f} s",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
