"""Cold start of the command line: `archspec shapes`, `validate` and `--help` as whole processes, beside
Keras building the same network, the floor any program with these dependencies pays, and the import profile.

    .venv/bin/python bench/startup.py                    # archspec commands: median of 5; Keras: median of 3
    .venv/bin/python bench/startup.py -k 1               # one timed Keras run (after its warm-up)
    .venv/bin/python bench/startup.py --before ca9755e   # the same commands from an older commit, in the same rounds
    .venv/bin/python bench/startup.py -k 0 --only shapes --variant eager=/tmp/tree   # a patched tree, same rounds

Every timed run is a fresh process from spawn to exit, output to /dev/null, after one untimed warm-up
of each command (disk cache, .pyc files). The commands take turns round by round, so drift in the
machine's load hits them alike. Measured in this one run:
- the floor: `python -c pass`; Python importing PyYAML, click and Pydantic; the same plus one Pydantic
  model (the machinery any Pydantic validation loads);
- `archspec --help`, `archspec shapes SPEC`, `archspec validate specs/*.yaml` (the `archspec` console script);
- Keras: `keras.applications.APP(weights=None)` then `model.summary()`;
- with --before REF: the archspec commands run from REF's tree (git archive), on the same spec files;
- with --variant LABEL=TREE (repeatable): the same from another tree (a folder holding `archspec/`, or a
  git ref), e.g. this tree with one lazy import made eager; each is printed beside this tree as the
  median of the per-round differences, the figure that decides whether a lazy import pays for itself.
Then the import profile of `archspec shapes SPEC` (python -X importtime, median of 3 runs).
Checks: both sides count the same parameters; `shapes` imports no TensorFlow, Keras or NumPy.
Targets (ResNet-152): shapes within 2x of the floor (Python + PyYAML + click + Pydantic + one model
validated: what any Pydantic CLI pays; an absolute figure would measure the machine, not archspec) and
at least 40x faster than Keras; validate of the whole zoo at most 0.5 s; --help at most 0.12 s.
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

from _proc import ROOT, archspec_cmd, child_env, fmt_times, machine_note, median, run_child, run_usage, target

FLOOR_RATIO, RATIO, VALIDATE_S, HELP_S = 2.0, 40.0, 0.5, 0.12
FLOOR_LABEL = "python: the same + one Pydantic model"

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
    FLOOR_LABEL: (
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
        f"\nimport profile of `{label}` (python -X importtime, self times, median of runs;"
        " the profiler adds its own cost):"
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


def tree_of(where: str, into: Path) -> Path:
    """A variant's tree: a folder holding `archspec/` as it is, anything else a git ref (extracted into `into`)."""
    path = Path(where)
    if (path / "archspec").is_dir():
        return path.resolve()
    into.mkdir(parents=True)
    return checkout_of(where, into)


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
    ap.add_argument(
        "--variant",
        metavar="LABEL=TREE",
        action="append",
        default=[],
        help="also time the archspec commands of TREE (a folder holding archspec/, or a git ref); repeatable",
    )
    ap.add_argument(
        "--only",
        choices=["help", "shapes", "validate"],
        action="append",
        help="time only these archspec commands (repeatable; default all three)",
    )
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

    shapes_label = f"archspec shapes {spec_arg}"
    archspec_commands = {
        "help": ("archspec --help", [*cli, "--help"]),
        "shapes": (shapes_label, [*cli, "shapes", spec]),
        "validate": (f"archspec validate specs/*.yaml ({len(zoo)} specs)", [*cli, "validate", *zoo]),
    }
    timed = [archspec_commands[name] for name in (args.only or archspec_commands)]
    trees = [(args.before, args.before)] if args.before else []
    for variant in args.variant:
        label, sep, where = variant.partition("=")
        if not sep:
            ap.error(f"--variant {variant!r}: write LABEL=TREE")
        trees.append((label, where))

    with tempfile.TemporaryDirectory(prefix="archspec-before-") as tmp:
        commands: dict[str, tuple[list[str], Path]] = {
            label: ([sys.executable, "-c", code], ROOT) for label, code in FLOOR.items()
        }
        for label, cmd in timed:
            commands[label] = (cmd, ROOT)
        for n, (name, where) in enumerate(trees):
            old = tree_of(where, Path(tmp) / str(n))
            for label, cmd in timed:
                commands[f"[{name}] {label}"] = (cmd, old)
        keras_cmd = [sys.executable, "-c", KERAS.format(app=app)]

        for cmd, checkout in commands.values():  # warm-up: .pyc files, disk cache
            run_child(cmd, env=env, checkout=checkout)
        if args.keras_repeat:
            run_child(keras_cmd, env=env)
        times: dict[str, list[float]] = {label: [] for label in commands}
        cpu: dict[str, list[float]] = {label: [] for label in commands}
        rss: dict[str, list[int]] = {label: [] for label in commands}
        keras_times: list[float] = []
        keras_rss: list[int] = []
        keras_params = None
        for round_ in range(max(args.repeat, args.keras_repeat)):
            if round_ < args.repeat:
                order = list(commands.items())
                shift = round_ % len(order)  # each round starts one command later: no command always runs first
                for label, (cmd, checkout) in order[shift:] + order[:shift]:
                    t, c, m, _ = run_usage(cmd, env=env, checkout=checkout)
                    times[label].append(t)
                    cpu[label].append(c)
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
            f"{label:<{width}} {median(times[label]):6.3f} s  CPU {median(cpu[label]):6.3f} s"
            f"  peak RSS {max(rss[label]) / 1024:5.0f} MiB"
            f"  (runs: {fmt_times(times[label])})"
        )
    if keras_times:
        label = f"keras.applications.{app}(weights=None) + summary()"
        print(
            f"{label:<{width}} {median(keras_times):6.3f} s  peak RSS {max(keras_rss) / 1024:5.0f} MiB"
            f"  (runs: {fmt_times(keras_times)})"
        )

    timed_s = {label: median(times[label]) for label, _ in timed}
    shapes_s = timed_s.get(shapes_label)
    _, _, out = run_child([*cli, "shapes", spec, "--json"], env=env, capture=True)
    params = json.loads(out)["total_params"]
    _, _, probe = run_child([sys.executable, "-c", PROBE.format(spec=spec)], env=env, capture=True)
    heavy = probe.split("imported", 1)[1].split()
    for name, _ in trees:
        print(
            f"\n[{name}] beside this tree (median of the {args.repeat} per-round differences; + is slower there;"
            " CPU: user + system time of the process, which a busy machine inflates far less than wall time):"
        )
        for label, _ in timed:
            there = f"[{name}] {label}"
            wall = median([a - b for a, b in zip(times[there], times[label], strict=True)])
            used = median([a - b for a, b in zip(cpu[there], cpu[label], strict=True)])
            print(
                f"  {label}: wall {median(times[there]):.3f} s there, {median(times[label]):.3f} s here:"
                f" {wall * 1000:+.0f} ms; CPU {median(cpu[there]):.3f} s there, {median(cpu[label]):.3f} s here:"
                f" {used * 1000:+.0f} ms"
            )
    if keras_times:
        same = "the same" if params == keras_params else f"DIFFERENT: archspec {params:,}, keras {keras_params:,}"
        print(f"parameters: {params:,} on both sides" if params == keras_params else f"parameters: {same}")

    if args.profile_runs:
        profile, total = import_profile([*cli, "shapes", spec], args.profile_runs)
        print_profile(shapes_label, profile, total, shapes_s or float("nan"), args.top)

    print()
    floor = median(times[FLOOR_LABEL])
    if shapes_s is not None:
        target(
            f"`{shapes_label}`, whole process, within {FLOOR_RATIO:.0f}x of the floor (Python + PyYAML + click + "
            "Pydantic + one model validated)",
            f"{shapes_s / floor:.2f}x",
            f"{shapes_s:.3f} s vs floor {floor:.3f} s, medians of {args.repeat} in the same rounds; CPU time:"
            f" {median(cpu[shapes_label]) / median(cpu[FLOOR_LABEL]):.2f}x",
            shapes_s <= FLOOR_RATIO * floor,
        )
    if keras_times and shapes_s is not None:
        ratio = median(keras_times) / shapes_s
        target(
            f"... at least {RATIO:.0f}x faster than Keras build + summary()",
            f"{ratio:.1f}x",
            f"Keras {median(keras_times):.2f} s; {params:,} parameters "
            f"{'on both sides' if params == keras_params else 'DIFFER'}",
            ratio >= RATIO and params == keras_params,
        )
    else:
        target(f"... at least {RATIO:.0f}x faster than Keras build + summary()", "not measured", "-k 0", None)
    target("... importing no TensorFlow, Keras or NumPy", ", ".join(heavy) or "none imported", "", not heavy)
    validate_s = timed_s.get(archspec_commands["validate"][0])
    if validate_s is not None:
        target(
            f"`archspec validate specs/*.yaml` ({len(zoo)} specs) at most {VALIDATE_S} s",
            f"{validate_s:.3f} s",
            f"median of {args.repeat}",
            validate_s <= VALIDATE_S,
        )
    help_s = timed_s.get(archspec_commands["help"][0])
    if help_s is not None:
        target(f"`archspec --help` at most {HELP_S} s", f"{help_s:.3f} s", f"median of {args.repeat}", help_s <= HELP_S)
    target(
        "floor: Python importing PyYAML, click and Pydantic, then validating one model",
        f"{floor:.3f} s",
        f"without the model: {median(times['python: import yaml, click, pydantic']):.3f} s; "
        f"`python -c pass`: {median(times['python -c pass']):.3f} s",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
