"""Long fuzz run: the CI fuzz suites (tests/test_fuzz.py, tests/test_weights_fuzz.py) with many more examples.

    .venv/bin/python bench/fuzz.py            # 20x CI: ~300 Keras builds, ~6,000 each of corrupted specs,
                                              # texts, expressions and specs with a YAML 1.1 surprise
    .venv/bin/python bench/fuzz.py 100        # 100x

Prints how many generated specs were tried and whether any crashed or disagreed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from _proc import ROOT, target


def main() -> int:
    scale = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    env = {**os.environ, "ARCHSPEC_FUZZ_EXAMPLES": str(scale), "TF_CPP_MIN_LOG_LEVEL": "2"}
    start = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--hypothesis-show-statistics",
            str(ROOT / "tests" / "test_fuzz.py"),
            str(ROOT / "tests" / "test_weights_fuzz.py"),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    tried = dict.fromkeys(
        (
            "agree_with_keras",
            "fail_cleanly",
            "never_crashes",
            "bounded_number",
            "where_they_are_written",
            "naming_the_file",
            "damaged_weights_file_inside",
            "with_any_config",
        ),
        0,
    )
    current = None
    for line in result.stdout.splitlines():
        for name in tried:
            if name in line:
                current = name
        found = re.search(r"(\d+) passing", line)
        if current and found:
            tried[current] += int(found.group(1))
    print(f"scale {scale}x, {elapsed:.0f} s")
    print(f"valid specs built and compared with Keras: {tried['agree_with_keras']}")
    print(f"corrupted specs:                           {tried['fail_cleanly']}")
    print(f"arbitrary texts:                           {tried['never_crashes']}")
    print(f"generated expressions:                     {tried['bounded_number']}")
    print(f"specs with a YAML 1.1 surprise:            {tried['where_they_are_written']}")
    print(f"damaged weights files (3 formats):         {tried['naming_the_file']}")
    print(
        f".keras with a damaged HDF5 / any config:   {tried['damaged_weights_file_inside']} / "
        f"{tried['with_any_config']}"
    )
    print("result:", "no crash, no disagreement" if result.returncode == 0 else "FAILURES (see below)")
    target(
        "fuzzing: generated valid specs agree with Keras node by node; corrupted specs and arbitrary texts fail "
        "cleanly",
        "no crash, no disagreement" if result.returncode == 0 else "FAILURES",
        f"{scale}x CI: {tried['agree_with_keras']:,} valid specs, {tried['fail_cleanly']:,} corrupted, "
        f"{tried['never_crashes']:,} texts in {elapsed:.0f} s",
        result.returncode == 0,
    )
    if result.returncode:
        print(result.stdout[-5000:])
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
