"""`make bench`: run every benchmark in bench/ and rewrite BENCHMARKS.md's figures from their output.

    make bench                          # quick mode: every script, with shorter runs
    BENCH=full make bench               # the full runs (tens of minutes: builds, training, fuzzing, exports)
    .venv/bin/python bench/run.py --only startup.py,scale.py      # some scripts; the other rows stay

Each script runs in its own process with the arguments of the mode (MODES below; a script that is
not listed runs with its own defaults in both modes). Its output is shown as it runs and kept: each
target it reports through _proc.target() becomes a row of BENCHMARKS.md's target table, beside the
command that produced it, and its whole output replaces its block under "Detail". The machine, the
versions, the commit and the date go above the table. Text outside the marked regions
(<!-- bench:NAME --> ... <!-- /bench:NAME -->) is kept as written.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _proc import ROOT, ROWS_ENV

sys.path.insert(0, str(ROOT))  # this checkout's archspec, as the scripts' children get it
import contextlib

from archspec.files import write_text

BENCH = ROOT / "bench"
DOC = ROOT / "BENCHMARKS.md"
MODES: dict[str, dict[str, list[str]]] = {
    "startup.py": {"quick": ["-k", "1"], "full": ["-k", "3"]},
    "scale.py": {"quick": [], "full": ["--build"]},
    "build_vs_keras.py": {"quick": ["-n", "3"], "full": ["-n", "5"]},
    "train_step.py": {
        "quick": ["--nets", "resnet50,mobilenet_v2,efficientnet_b0", "--steps", "4", "--warmup", "1"],
        "full": ["--nets", "resnet50,densenet121,mobilenet_v2,efficientnet_b0,convnext_tiny", "--steps", "8"],
    },
    "train_lenet.py": {"quick": ["--epochs", "2"], "full": []},
    "fuzz.py": {"quick": ["2"], "full": ["20"]},
    "export_zoo.py": {"quick": ["--max-params", "1e6"], "full": []},
    "input_pipeline.py": {"quick": [], "full": []},
    "recipes_digits.py": {"quick": ["--epochs", "1", "--seeds", "1"], "full": []},
    "time_to_accuracy.py": {
        "quick": ["--nets", "lenet", "--seeds", "1", "--lenet-epochs", "1", "--quick"],
        "full": ["--seeds", "3", "--lenet-epochs", "6", "--resnet20-epochs", "2"],
    },
    "draw_scale.py": {"quick": ["--sizes", "1000,10000"], "full": []},
    "train_tail.py": {"quick": ["--runs", "3"], "full": []},
    "serve_attack.py": {"quick": ["--seconds", "15"], "full": ["--seconds", "60", "--model"]},
    "gpu.sh": {"quick": ["run"], "full": ["run"]},
    # full: 20 trained trials of 3 epochs, and the same search without static pruning (about half an hour on 2 CPUs)
    "search_digits.py": {"quick": ["--trials", "3", "--epochs", "1", "--no-compare"], "full": []},
}
NEEDS_GPU = {"gpu.sh"}
HELPERS = {"_proc.py", "run.py"}


def scripts() -> list[str]:
    """Every benchmark in bench/: those of MODES in their order, then any other, by name."""
    found = {p.name for p in BENCH.iterdir() if p.suffix in (".py", ".sh") and p.name not in HELPERS}
    return [s for s in MODES if s in found] + sorted(found - set(MODES))


def command(script: str, mode: str) -> tuple[list[str], str]:
    """The command that runs `script` in `mode`, and the same as the table shows it."""
    args = MODES.get(script, {}).get(mode, [])
    if script.endswith(".sh"):
        return ["bash", str(BENCH / script), *args], shlex.join([f"bench/{script}", *args])
    python = ".venv/bin/python" if Path(sys.executable) == ROOT / ".venv" / "bin" / "python" else "python"
    return [sys.executable, str(BENCH / script), *args], shlex.join([python, f"bench/{script}", *args])


def gpu() -> str | None:
    """The GPU's name and memory, or None when this machine has none nvidia-smi can see."""
    if not shutil.which("nvidia-smi"):
        return None
    out = subprocess.run(
        ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"], capture_output=True, text=True
    )
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None


def machine(mode: str, loads: tuple[float, float]) -> str:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        info = f.read()
    if found := re.search(r"^model name\s*:\s*(.+)$", info, re.M):
        cpu = re.sub(r"\s+", " ", found.group(1))
    avx = " (AVX-512)" if re.search(r"\bavx512f\b", info) else ""
    with open("/proc/meminfo", encoding="utf-8") as f:
        mem = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1)) / 2**20
    versions = []
    for name, dist in (
        ("TensorFlow", "tensorflow"),
        ("Keras", "keras"),
        ("Pydantic", "pydantic"),
        ("click", "click"),
        ("PyYAML", "pyyaml"),
        ("JAX", "jax"),
    ):
        with contextlib.suppress(PackageNotFoundError):
            versions.append(f"{name} {version(dist)}")
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
    ).stdout.strip()
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    busy = max(loads) > 0.75 * (os.cpu_count() or 1)
    return (
        f"**Machine:** {os.cpu_count()} CPUs, {cpu}{avx}, {mem:.0f} GiB, GPU: {gpu() or 'none'}; "
        f"Python {platform.python_version()}, {', '.join(versions)}. "
        f"Load average {loads[0]:.1f} at the start, {loads[1]:.1f} at the end"
        f"{' (a busy machine: the seconds are inflated, the ratios less so)' if busy else ''}. "
        f"Measured {when} at commit {commit or 'unknown'}{' with uncommitted changes' if dirty else ''}, "
        f"`make bench` {mode} mode (`BENCH={mode}`)."
    )


@dataclass
class Result:
    rows: list[dict]
    """The targets the script reported (see _proc.target)."""
    output: str
    command: str
    """As the table shows it."""
    code: int


def run(script: str, mode: str) -> Result:
    """Run one script, echoing its output as it comes."""
    cmd, shown = command(script, mode)
    print(f"\n=== {shown}", flush=True)
    with tempfile.TemporaryDirectory(prefix="archspec-bench-") as tmp:
        rows_path = Path(tmp) / "rows.jsonl"
        rows_path.touch()
        env = {**os.environ, ROWS_ENV: str(rows_path), "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = []
        for line in proc.stdout:
            sys.stdout.write(line)
            lines.append(line)
        code = proc.wait()
        rows = [json.loads(line) for line in rows_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if code and not any(row.get("ok") is False for row in rows):  # a failure no target explains
        rows.append(
            {
                "target": f"bench/{script} runs to the end",
                "value": f"failed (exit {code})",
                "note": "its output is below",
                "ok": False,
            }
        )
    return Result(rows, "".join(lines), shown, code)


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table_row(row: dict, cmd: str) -> str:
    value = f"**{row['value']}**" + (f" ({row['note']})" if row.get("note") else "")
    result = {True: "met", False: "**not met**", None: "-"}[row.get("ok")]
    return f"| {cell(row['target'])} | {cell(value)} | {result} | `{cell(cmd)}` |"


def region(doc: str, name: str, body: str, *, after: str | None = None) -> str:
    """Replace the text between <!-- bench:NAME --> and <!-- /bench:NAME -->; add the region if missing."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in doc and end in doc:
        head, rest = doc.split(start, 1)
        return head + block + rest.split(end, 1)[1]
    return doc.rstrip() + "\n\n" + (f"{after}\n\n" if after else "") + block + "\n"


def kept_rows(doc: str, ran: set[str]) -> list[str]:
    """Rows of the current table that came from scripts not run this time."""
    start, end = "<!-- bench:targets -->", "<!-- /bench:targets -->"
    if start not in doc:
        return []
    body = doc.split(start, 1)[1].split(end, 1)[0]
    rows = [line for line in body.splitlines() if line.startswith("| ") and not line.startswith(("| target |", "|---"))]
    return [line for line in rows if not any(f"bench/{script}" in line for script in ran)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("quick", "full"), default=os.environ.get("BENCH") or "quick")
    parser.add_argument("--only", help="comma-separated script names (default: every script in bench/)")
    args = parser.parse_args()
    chosen = scripts()
    if args.only:
        wanted = [s.strip() for s in args.only.split(",")]
        unknown = [s for s in wanted if s not in chosen]
        if unknown:
            parser.error(f"no such benchmark: {', '.join(unknown)} (have: {', '.join(chosen)})")
        chosen = [s for s in chosen if s in wanted]

    # Without a GPU, the GPU scripts' rows and output stay as the last GPU run left them (measured
    # on a lent GPU machine, which has no TensorFlow: see bench/gpu.sh), rather than becoming "not measured".
    no_gpu = [script for script in chosen if script in NEEDS_GPU and gpu() is None]
    for script in no_gpu:
        print(
            f"\n=== bench/{script}: skipped, it needs an NVIDIA GPU and this machine has none; its rows stay",
            flush=True,
        )
    chosen = [script for script in chosen if script not in no_gpu]
    if not chosen:
        return 0

    load_start = os.getloadavg()[0]
    results = {script: run(script, args.mode) for script in chosen}
    load_end = os.getloadavg()[0]

    doc = DOC.read_text(encoding="utf-8")
    kept = kept_rows(doc, set(chosen)) if args.only or no_gpu else []
    rows = [table_row(row, result.command) for result in results.values() for row in result.rows]
    about = machine(args.mode, (load_start, load_end))
    if args.only:
        about += f" This time only {', '.join(f'bench/{s}' for s in chosen)}; the other rows are from an earlier run."
    elif no_gpu:
        about += (
            f" The rows of {', '.join(f'bench/{s}' for s in no_gpu)} are from the last run on a GPU machine "
            "(their section says which)."
        )
    doc = region(doc, "machine", about)
    doc = region(
        doc, "targets", "\n".join(["| target | measured | result | command |", "|---|---|---|---|", *rows, *kept])
    )
    for script, result in results.items():
        doc = region(
            doc,
            f"output {script}",
            f"`{result.command}`:\n\n```text\n{result.output.rstrip()}\n```",
            after=f"### bench/{script}",
        )
    write_text(DOC, doc, force=True)

    unmet = sum(row.get("ok") is False for result in results.values() for row in result.rows)
    crashed = [script for script, result in results.items() if result.code]  # failed targets included
    print(
        f"\nwrote {DOC.relative_to(ROOT)}: {len(rows)} rows from {len(results)} scripts ({args.mode} mode), {unmet} "
        "not met" + (f"; exited with an error: {', '.join(crashed)}" if crashed else "")
    )
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
