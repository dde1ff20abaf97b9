"""The `archspec` group, and the one place where errors become messages.

Every SpecError is caught once, in ``main``, and printed without a traceback
(exit status 2).
"""

from __future__ import annotations

import sys

import click

from ..errors import SpecError
from ..keras_side.backend import native_logs_hidden
from . import share, spec_commands, train


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    if not verbose:
        ctx.with_resource(native_logs_hidden())


for _command in (
    spec_commands.shapes, spec_commands.validate, spec_commands.build, spec_commands.check, spec_commands.render,
    spec_commands.diff, spec_commands.reference, spec_commands.schema, share.draw, share.inspect, share.serve, share.export, share.import_,
    train.train, train.evaluate, train.predict,
):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the click group, turning SpecError into exit status 2."""
    try:
        cli.main(args=argv, prog_name="archspec", standalone_mode=False)
    except SpecError as exc:
        click.echo(str(exc), err=True)
        return 2
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
    sys.exit(main())
