"""The `archspec` command line: parse options, call the library, print.

``group`` holds the click group and the one place where a SpecError becomes
a message and exit status 2; each other module holds one family of commands.
"""

from .group import cli, main, run

__all__ = ["cli", "main", "run"]
