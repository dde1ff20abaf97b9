"""`archspec lsp`: the language server, for editors (its own module: only this command imports pygls)."""

from __future__ import annotations

import click

from ..errors import Problem, SpecError


@click.command()
def lsp() -> None:
    """A language server on stdin/stdout: diagnostics, shape hints, hover, an outline, completion, go to definition,
    references and quick fixes in the editor.

    \b
    archspec lsp      # started by the editor (set-up: docs/editors.md)
    """
    try:
        from ..tools.lsp.server import serve
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in {"pygls", "lsprotocol", "cattrs"}:
            raise
        raise SpecError(
            Problem(
                f"archspec lsp needs pygls, which is not installed ({exc.name})", hint="pip install 'archspec[lsp]'"
            )
        ) from exc
    serve()
