#!/usr/bin/env python3
"""Run archspec from a checkout: `python cli.py build specs/lenet.yaml`."""

import sys

from archspec.cli import run

if __name__ == "__main__":
    sys.exit(run())
