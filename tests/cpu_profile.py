"""CPU seconds per test, for deciding what to make faster: wall time on a shared 2-core machine says more about the
neighbours than about the test. Enabled by ARCHSPEC_CPU_PROFILE=FILE (conftest.py loads this plugin then): each test's
CPU time (this process and the child processes it waited for, setup and teardown included, so a module fixture counts
in its first test) is appended to FILE.WORKER as JSON lines; ``python tests/cpu_profile.py FILE`` sums them by file.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest


def _cpu() -> tuple[float, float]:
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, children.ru_utime + children.ru_stime


def _peak_mb() -> float:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    (me, kids), wall = _cpu(), time.perf_counter()
    yield
    (me2, kids2), wall2 = _cpu(), time.perf_counter()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    row = {"test": item.nodeid, "cpu": me2 - me, "children": kids2 - kids, "wall": wall2 - wall, "rss_mb": _peak_mb()}
    with open(f"{os.environ['ARCHSPEC_CPU_PROFILE']}.{worker}", "a") as f:
        f.write(json.dumps(row) + "\n")


def summary(prefix: str, top: int = 40) -> None:
    paths = Path(prefix).parent.glob(Path(prefix).name + ".*")
    rows = [json.loads(line) for path in paths for line in path.read_text().splitlines()]
    files: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0])
    for row in rows:
        entry = files[row["test"].split("::")[0]]
        entry[0] += row["cpu"]
        entry[1] += row["children"]
        entry[2] += row["wall"]
        entry[3] += 1
    total = sum(e[0] + e[1] for e in files.values())
    print(f"{len(rows)} tests, {total:.0f} CPU s in all ({total / 2:.0f} s on 2 cores at best)")
    print(f"peak memory of a worker: {max(row.get('rss_mb', 0) for row in rows):.0f} MB")
    for name, (cpu, kids, wall, n) in sorted(files.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))[:top]:
        print(f"{cpu + kids:8.1f} CPU s ({kids:6.1f} in children) {wall:8.1f} wall s {n:5d} tests  {name}")
    print("\nslowest tests by CPU:")
    for row in sorted(rows, key=lambda r: -(r["cpu"] + r["children"]))[:top]:
        print(f"{row['cpu'] + row['children']:8.1f} ({row['children']:6.1f} children)  {row['test']}")


if __name__ == "__main__":
    summary(sys.argv[1])
