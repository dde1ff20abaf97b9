"""The `archspec` command line: parse options, call the library, print.

``group`` holds the click group and the one place where an ArchspecError becomes
a message and its exit status (2 for bad input); each other module holds one family of commands.
"""

from .group import cli, main, run

__all__ = ["cli", "main", "run"]
