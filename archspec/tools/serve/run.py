"""Starting and stopping the server: what the target is, the listening socket, uvicorn, Ctrl-C."""

from __future__ import annotations

import asyncio
import errno
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from ...errors import Problem, SpecError
from ...keras_side.saving import SPEC_SUFFIXES
from ...spec.zoo import is_bare, locate
from .spec_view import SpecView
from .work import Budget, default_workers

if TYPE_CHECKING:
    import uvicorn

    from .model_view import ModelView

ANY_HOST = ("0.0.0.0", "::", "")
RUN_READ_ONLY = "the run folder's spec.yaml records what was trained; edit a copy of it"
ZOO_READ_ONLY = "a zoo spec, served by name, is the package's own file; copy it ({path}) and serve the copy to edit it"


def _missing_extra() -> str | None:
    try:
        import starlette  # noqa: F401 (imported only to see that the extra is installed)
        import uvicorn  # noqa: F401 (the same)
    except ImportError as exc:
        return exc.name
    return None


def views(
    target: Path, *, sets: tuple[str, ...] = (), read_only: bool = False
) -> tuple[SpecView | None, ModelView | None]:
    """The spec pane's and the model pane's objects for what the server is started with. A bare name that names no
    file is the zoo's spec (as for every command that takes a spec), served read-only: saving would rewrite the
    installed package (or the checkout's specs/)."""
    if is_bare(str(target)) and not target.exists():
        found = Path(locate(target))  # the zoo's file, or a SpecError with the closest name
        return SpecView(found, sets=sets, read_only=ZOO_READ_ONLY.format(path=found)), None
    if target.suffix.lower() in SPEC_SUFFIXES:
        return SpecView(target, sets=sets, read_only="started with --read-only" if read_only else None), None
    if not (target.is_dir() or target.suffix.lower() == ".keras"):
        raise SpecError(
            Problem(
                "not a spec, a run folder or a .keras file",
                file=str(target),
                hint="archspec serve specs/lenet.yaml, or archspec serve runs/NAME",
            )
        )
    from .model_view import ModelView  # imports TensorFlow

    model = ModelView(target)
    run_dir = model.trained.run_dir
    if sets and run_dir is None:
        raise SpecError(
            Problem(
                "--set and --variant apply to a spec; this model has no run folder and so no spec", file=str(target)
            )
        )
    spec = SpecView(run_dir / "spec.yaml", sets=sets, read_only=RUN_READ_ONLY) if run_dir is not None else None
    return spec, model


NOT_HERE = "give an address of this machine: 127.0.0.1 (this machine only), 0.0.0.0 (every interface) or one of its own"
BIND_ERRORS: dict[int | None, tuple[str, str, str | None]] = {
    errno.EADDRINUSE: (
        "--port",
        "cannot listen on {host}:{port}: the port is in use",
        "another program uses this port: pass --port with another number (0: any free port)",
    ),
    errno.EADDRNOTAVAIL: ("--host", "cannot listen on {where}: it is not an address of this machine", NOT_HERE),
    errno.EACCES: (
        "--port",
        "cannot listen on {host}:{port}: ports below 1024 need administrator rights",
        "pass --port 1024 or above (0: any free port)",
    ),
}
"""Why a bind failed, by errno: the option to blame, what is wrong, what to do. Each blames what is actually wrong:
a host that is not this machine's is not a busy port."""


def listen(host: str, port: int) -> socket.socket:
    """A bound, listening socket (port 0: any free one); a host or port it cannot have is a SpecError that names
    the option at fault, not a traceback."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise SpecError(
            Problem(
                f"cannot listen on {host!r}: it is not a name or address this machine can look up ({exc.strerror})",
                file="--host",
                hint=NOT_HERE,
            )
        ) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        where = repr(host) + (f" ({address[0]})" if address[0] != host.strip("[]") else "")
        option, message, hint = BIND_ERRORS.get(exc.errno, ("--host", "cannot listen on {host}:{port}: {why}", None))
        raise SpecError(
            Problem(message.format(host=host, port=port, where=where, why=exc.strerror), file=option, hint=hint)
        ) from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket, host: str) -> str:
    port = sock.getsockname()[1]
    shown = "127.0.0.1" if host in ANY_HOST else host
    return f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"


class _Terminated(Exception):
    """SIGTERM, raised where the server's run returns."""


def _terminated(sig: int, frame: object) -> None:
    raise _Terminated()


GRACE = 0.25
"""Seconds the server gives requests under way to finish once stopped; the work they wait on is killed at once."""


def _server_class() -> Callable[[uvicorn.Config, Any], uvicorn.Server]:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, which on Ctrl-C or SIGTERM also ends the app's work at once (``create_app``'s ``stop``)."""

        def __init__(self, config: uvicorn.Config, app: Any) -> None:
            super().__init__(config)
            self.app = app
            self.loop: asyncio.AbstractEventLoop | None = None

        async def serve(self, sockets: list[socket.socket] | None = None) -> None:
            self.loop = asyncio.get_running_loop()
            warming = asyncio.create_task(self.app.warm())
            try:
                await super().serve(sockets)
            finally:
                warming.cancel()

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if self.loop is not None:
                self.loop.call_soon_threadsafe(self.app.stop)  # wakes the loop: the waiting requests are answered now
            super().handle_exit(sig, frame)

    return Server


def _protocol_class(seconds: float) -> type:
    """uvicorn's HTTP/1.1 protocol, which also closes a connection whose request headers are not all in `seconds` after
    it opened or after its last answer. uvicorn has no such limit (its keep-alive timer is reset by every byte),
    so a client sending a header a byte at a time would hold a connection for ever."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class Protocol(H11Protocol):
        deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            if self.deadline is not None:
                self.deadline.cancel()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self.deadline is not None:
                self.deadline.cancel()
            self.deadline = self.loop.call_later(seconds, self._expire, self.cycle)

        def _expire(self, armed: Any) -> None:
            """No request began since the timer was armed (or one is still answered: it re-arms when done)."""
            idle = self.cycle is armed and (self.cycle is None or self.cycle.response_complete)
            if idle and not self.transport.is_closing():
                self.transport.close()

    return Protocol


def serve(
    target: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    sets: tuple[str, ...] = (),
    read_only: bool = False,
    say: Callable[[str], None] = print,
    open_browser: bool = False,
    budget: Budget | None = None,
) -> None:
    """Serve the live page for a spec, a run folder or a .keras file until Ctrl-C or SIGTERM; `budget`: what a request
    may cost."""
    missing = _missing_extra()
    if missing:
        raise SpecError(
            Problem(f"archspec serve needs {missing}, which is not installed", hint="pip install 'archspec[serve]'")
        )
    import uvicorn

    from .app import LOCAL_HOSTS, create_app

    spec, model = views(Path(target), sets=sets, read_only=read_only)
    hosts = None if host in ANY_HOST else tuple(dict.fromkeys((host.strip("[]").lower(), *LOCAL_HOSTS)))
    budget = budget or Budget(workers=default_workers())
    app = create_app(spec, model, hosts=hosts, budget=budget)
    sock = listen(host, port)
    url = url_of(sock, host)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        http=_protocol_class(budget.headers),
        timeout_graceful_shutdown=GRACE,  # type: ignore[arg-type]  # uvicorn says int; it takes a float
    )
    server = _server_class()(config, app)
    # uvicorn shuts down on the first Ctrl-C or SIGTERM, then raises the signal again for the handler it found:
    # Ctrl-C's is KeyboardInterrupt, and SIGTERM's is made the same here (from before the address is printed: a
    # signal may follow it at once), so that both end with "stopped" and status 0
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        say(f"serving {target} at {url}" + (" (every interface)" if host in ANY_HOST else "") + "; Ctrl-C stops")
        if open_browser:
            import webbrowser

            webbrowser.open(url)
        server.run(sockets=[sock])
    except (KeyboardInterrupt, _Terminated):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        sock.close()
    say("stopped")
