"""The `archspec` group, and the one place where errors become messages.

Every ArchspecError is caught once, in ``main``, and printed without a traceback;
its family gives the exit status (``errors.EXIT_STATUS``): 2 for bad input (SpecError),
74 for an output the machine refused to store (OutputError: a full disk), 1 otherwise.

A command's module is imported only when that command runs: `archspec shapes`
must not pay for the modules of `train` or `export`, and `archspec --help`
lists every command from the table below without importing any of them.
"""

from __future__ import annotations

import errno
import importlib
import sys
from pathlib import Path
from typing import Any

import click

from ..errors import ArchspecError, Problem, exit_status
from ..files import REFUSED, WriteError

COMMANDS: dict[str, tuple[str, str]] = {
    # name: ("module:function" in this package, the summary `archspec --help` shows: the docstring's first sentence,
    # kept equal to it by tests/test_startup.py)
    "shapes": ("spec_commands:shapes", "Per-layer output shapes, parameters, MACs and receptive field."),
    "validate": ("spec_commands:validate", "Check specs: syntax, schema, references and shapes."),
    "build": ("spec_commands:build", "Compile a spec to a Keras model file and print its layer table."),
    "check": (
        "spec_commands:check",
        "Build the model and verify every static shape and parameter count against Keras.",
    ),
    "render": (
        "spec_commands:render",
        "Print the fully resolved spec: templates, repeats, variables and defaults expanded.",
    ),
    "diff": (
        "spec_commands:diff",
        "Compare two specs block by block (shapes, parameters, MACs, layers), or one spec with itself under --set "
        "overrides or another variant.",
    ),
    "zoo": (
        "spec_commands:zoo",
        "List the specs that ship with archspec: family, variants, parameters, MACs and the reference each is exact "
        "to.",
    ),
    "reference": (
        "spec_commands:reference",
        "Print the reference of every layer kind (markdown), generated from the schemas.",
    ),
    "schema": ("spec_commands:schema", "Print the JSON Schema of spec files, for editors."),
    "draw": ("share:draw", "Draw a network: SVG, interactive HTML (click blocks to open them) or PNG."),
    "inspect": (
        "share:inspect",
        "Feature maps, first-layer filters and class probabilities of a trained model for one image (static HTML).",
    ),
    "serve": (
        "share:serve",
        "A live page: edit a spec and watch its shapes and diagram; draw a digit and watch a trained model see it.",
    ),
    "export": (
        "share:export",
        "Export a run folder (with its preprocessing), a .keras model or a spec to SavedModel, ONNX or TFLite.",
    ),
    "import": ("share:import_", "Turn a Keras model (.keras) into a spec."),
    "train": (
        "train:train",
        "Train a spec's network; writes a run folder (model, checkpoints, history, metrics, TensorBoard logs).",
    ),
    "search": (
        "search:search",
        "Search the spec's `search` space on Optuna; candidates over `budget` or not a network are rejected "
        "statically.",
    ),
    "evaluate": ("train:evaluate", "Accuracy, loss and confusion matrix of a trained model on a data source."),
    "data": ("train:data", "Write a data source as an image folder of PNG files, one folder per class."),
    "lsp": (
        "lsp:lsp",
        "A language server on stdin/stdout: diagnostics, shape hints, hover, an outline, completion, go to definition, "
        "references and quick fixes in the editor.",
    ),
    "predict": ("train:predict", "Class probabilities for images (PNG, JPEG, GIF, BMP, WebP) or .npy arrays."),
}
PURE = frozenset({"shapes", "validate", "render", "diff", "reference", "schema", "zoo", "lsp"})
"""Commands that never load TensorFlow: they start without even the code that quiets its logs."""


class LazyGroup(click.Group):
    """A click group whose commands are imported by name, when one is invoked or its help is asked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMANDS:
            module, function = COMMANDS[name][0].split(":")
            self.add_command(getattr(importlib.import_module(f"{__package__}.{module}"), function), name)
        return self.commands.get(name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click lists them (names, summaries cut to the width), from the table."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))
        rows = []
        for name in names:
            command: Any = self.commands.get(name) or click.Command(name, help=COMMANDS[name][1])
            if not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="archspec")
@click.option("--verbose", is_flag=True, help="Show TensorFlow's own start-up and device logs (hidden otherwise).")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """archspec: declarative CNN architectures for Keras.

    \b
    archspec shapes specs/lenet.yaml     # shapes, params, MACs, receptive fields
    archspec build specs/lenet.yaml      # -> build/lenet.keras
    archspec validate specs/*.yaml
    """
    from ..spec.given import COMMAND_LINE, given  # here: `archspec --help` imports no more than it needs

    ctx.with_resource(given(COMMAND_LINE))  # messages name `--set clases`, not Python's `variables['clases']`
    if not verbose and ctx.invoked_subcommand not in PURE:
        from ..keras_side.backend import native_logs_hidden

        ctx.with_resource(native_logs_hidden())


FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
"""Errors only a write can cause: one that reaches ``main`` untranslated came from printing (`> /dev/full`)."""


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the click group, turning an ArchspecError into its message and exit status."""
    try:
        cli.main(args=argv, prog_name="archspec", standalone_mode=False)
    except ArchspecError as exc:
        click.echo(str(exc), err=True)
        return exit_status(exc)
    except OSError as exc:  # every file archspec writes names itself (files.atomic_path): this is the printed output
        if exc.errno not in FULL:
            raise
        reason, remedy = REFUSED[exc.errno]
        where = "<standard output>"
        hint = f"{remedy} or send the output elsewhere, and run the command again"
        error = WriteError(Path(where), reason, remedy, Problem(f"cannot print: {reason}", file=where, hint=hint))
        click.echo(str(error), err=True)
        return exit_status(error)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return 2
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    return 0


def run() -> None:
    """The `archspec` script. A command that loaded TensorFlow ends with ``os._exit`` once its output is flushed:
    by then every file it wrote is complete and on the disk (``files.py``), and the interpreter's teardown of
    TensorFlow and Keras is CPU work for nothing, seconds of it on a busy machine after a run's last epoch
    (issue 29)."""
    code = main()
    if "tensorflow" not in sys.modules:
        sys.exit(code)
    import contextlib
    import logging
    import os

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more can be said there
            stream.flush()
    os._exit(code)
