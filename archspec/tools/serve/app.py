"""The web app: one page, its two assets and five JSON endpoints, on Starlette.

    GET  /                    the page
    GET  /assets/serve.js     its script and stylesheet (a fixed table: no name reaches the file system)
    GET  /api/session         what the server was started with: the spec's text, the model's facts
    POST /api/spec/check      {"text", "sets"} -> shapes table, diagram and warnings, or problems
    POST /api/spec/save       {"text", "version"} -> writes the one spec file (403 read-only, 409 changed on disk,
                              507 the disk refused it: full, read-only)
    POST /api/model/look      image bytes (PNG, JPEG, GIF, BMP, WebP) -> probabilities and feature maps

Every request has a budget (``work.Budget``): a check runs in a worker process that is killed past its time
or memory, and an answer over its size is not sent; either is a 422 that says which budget it met. When
every worker is busy and enough requests wait, more are refused at once (429).

Every refusal is JSON with an "error" sentence and a 4xx status: an unknown route, a wrong method,
a body over its limit (413), malformed JSON or unknown fields (400), a wrong content type (415),
too many expensive calls (429), a Host header that is not this server's (400, against DNS
rebinding) or a cross-site POST (403). Errors in a spec are not refusals: /api/spec/check answers
200 with the problems, as the CLI would print them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...errors import Problem, SpecError
from ...files import WriteError
from ..draw.page import inline_scripts
from .limits import IMAGE_BODY, SPEC_BODY, RateLimit, Refused, json_object
from .page import ASSETS, page
from .spec_view import SpecView, problem_json
from .work import Budget, Lane, OverBudget, Pool, Stopping, default_workers

if TYPE_CHECKING:
    from .model_view import ModelView  # NumPy and TensorFlow: a spec-only server never imports them

log = logging.getLogger("archspec.serve")

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/bmp", "application/octet-stream")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def csp() -> str:
    """Scripts: the page's own, and the diagram's inline ones by hash (the diagram is shown as the
    self-contained page `archspec draw` writes, inside an iframe of this origin). Nothing remote."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode("utf-8")).digest()).decode("ascii") + "'"
        for s in inline_scripts()
    )
    return (
        "default-src 'none'; script-src 'self' "
        + hashes
        + "; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
    )


def refusal(status: int, message: str, headers: dict[str, str] | None = None, **fields: Any) -> JSONResponse:
    return JSONResponse({"error": message, **fields}, status_code=status, headers=headers)


class Arriving:
    """The deadlines of the bodies arriving now: when the server stops they all pass at once, so that it never waits for
    a slow client (each is answered 503 instead of being cancelled mid-request)."""

    def __init__(self) -> None:
        self.deadlines: set[asyncio.Timeout] = set()
        self.stopped = False

    async def warm(self) -> None:
        """Nothing to start."""

    def stop(self) -> None:
        self.stopped = True
        for deadline in self.deadlines:
            deadline.reschedule(asyncio.get_running_loop().time())


async def body_of(request: Request, limit: int, types: tuple[str, ...], seconds: float, arriving: Arriving) -> bytes:
    """The request body, refused when over `limit` bytes (declared or streamed), not of one of `types`, or not all
    arrived within `seconds` (408: a client that sends slowly holds a connection and a task)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in types:
        raise Refused(415, f"expected Content-Type {' or '.join(types)}, got {kind or 'none'}")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise Refused(413, f"the body is larger than {limit:,} bytes")
    if arriving.stopped:
        raise Stopping()
    chunks, size = [], 0
    try:
        async with asyncio.timeout(seconds) as deadline:
            arriving.deadlines.add(deadline)
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise Refused(413, f"the body is larger than {limit:,} bytes")
                chunks.append(chunk)
    except TimeoutError:
        if arriving.stopped:
            raise Stopping() from None
        raise Refused(
            408, f"the body did not arrive within {seconds:g} s ({size:,} bytes came)", {"Connection": "close"}
        ) from None
    finally:
        arriving.deadlines.discard(deadline)
    return b"".join(chunks)


class Guard:
    """ASGI middleware: the Host and Origin rules, and the security headers on every answer."""

    def __init__(self, app: Any, hosts: tuple[str, ...] | None, policy: str, work: tuple[Any, ...] = ()) -> None:
        self.app, self.hosts, self.work = app, hosts, work
        self.headers = [
            (b"content-security-policy", policy.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"cache-control", b"no-store"),
        ]

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        why = None
        if self.hosts is not None and _hostname(host) not in self.hosts:
            why = (400, f"unexpected Host header {host[:100]!r}: open the page at the address the server printed")
        elif (
            scope["method"] not in ("GET", "HEAD")
            and "origin" in headers
            and _hostport(headers["origin"]) != host.lower()
        ):
            why = (403, "cross-site requests are refused")
        if why is not None:
            await refusal(*why)(scope, receive, send)
            return

        async def secured(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": list(message.get("headers", [])) + self.headers}
            await send(message)

        await self.app(scope, receive, secured)

    async def warm(self) -> None:
        """Start the workers' processes before the first request needs one."""
        for w in self.work:
            await w.warm()

    def stop(self) -> None:
        """End the work under way now and refuse more (Ctrl-C, SIGTERM): whoever waits is answered 503."""
        for w in self.work:
            w.stop()


def _hostname(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]")[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _hostport(origin: str) -> str:
    return origin.strip().lower().split("://", 1)[-1].rstrip("/")


RATES = {"check": (100.0, 100), "look": (60.0, 60), "save": (5.0, 10)}
"""Expensive calls: (a second, at once) for spec checks, model looks and saves. The page sends one at a time, so
typing or drawing stays below them; a script that floods the server gets 429s."""


def create_app(
    spec: SpecView | None,
    model: ModelView | None,
    *,
    hosts: tuple[str, ...] | None = LOCAL_HOSTS,
    rates: dict[str, tuple[float, int]] | None = None,
    budget: Budget | None = None,
) -> Any:
    """The app for a spec and/or a model; `hosts`: the Host names accepted (None: any, for --host 0.0.0.0).
    The returned app's ``stop()`` ends the work under way at once (the server calls it on Ctrl-C or SIGTERM)."""
    rates = {**RATES, **(rates or {})}
    budget = budget or Budget(workers=default_workers())
    arriving = Arriving()
    checking = Pool(budget, "spec check")
    looking = Lane(
        Budget(seconds=budget.seconds, workers=1, waiting=budget.waiting), "model"
    )  # the model does one pass at a time
    checks = RateLimit(*rates["check"], "spec check")
    looks = RateLimit(*rates["look"], "model")
    saves = RateLimit(*rates["save"], "save")
    title = spec.path.name if spec is not None and model is None else (model.name if model is not None else "archspec")

    async def index(request: Request) -> Response:
        return Response(page(title), media_type="text/html; charset=utf-8")

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            raise Refused(404, "no such asset")
        text, kind = ASSETS[name]
        return Response(text, media_type=kind)

    async def session(request: Request) -> Response:
        return JSONResponse({"spec": spec.session() if spec else None, "model": model.session() if model else None})

    async def check(request: Request) -> Response:
        if spec is None:
            raise Refused(404, "this server shows a model without a spec")
        data = json_object(
            await body_of(request, SPEC_BODY, ("application/json",), budget.body, arriving),
            {"text": str, "sets": list},
            ("text",),
        )
        checks.take()
        fn, args = spec.job(data["text"], data.get("sets", []))
        try:
            return Response(await checking.run(fn, *args), media_type="application/json")
        except OverBudget as exc:  # said as a problem too, so that the page shows it where it shows a spec's
            why = Problem(
                f"not checked: {exc.message}",
                file=spec.name,
                hint=f"archspec shapes {spec.name} checks it without this budget; a large `repeat` or `times` is the "
                "usual cause",
            )
            exc.fields["problems"] = [problem_json(why)]
            raise

    async def save(request: Request) -> Response:
        if spec is None:
            raise Refused(404, "this server shows a model without a spec")
        data = json_object(
            await body_of(request, SPEC_BODY, ("application/json",), budget.body, arriving),
            {"text": str, "version": str},
            ("text", "version"),
        )
        saves.take()
        try:
            version = await run_in_threadpool(spec.save, data["text"], data["version"])
        except WriteError as exc:  # the machine refused to store it (a full disk): the page's text is fine, keep it
            raise Refused(507, f"not saved: {exc.reason}; {exc.remedy} and save again") from None
        return JSONResponse({"saved": spec.name, "version": version})

    async def look(request: Request) -> Response:
        if model is None:
            raise Refused(
                404, "this server shows a spec without a trained model; start it with a run folder or a .keras file"
            )
        data = await body_of(request, IMAGE_BODY, IMAGE_TYPES, budget.body, arriving)
        if not data:
            raise Refused(400, "the body is empty: send an image")
        looks.take()
        try:
            return JSONResponse(await looking.run(model.look, data, "image"))
        except SpecError as exc:
            return JSONResponse(
                {"error": str(exc), "problems": [problem_json(p) for p in exc.problems]}, status_code=422
            )

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        return refusal(exc.status, exc.message, exc.headers, **exc.fields)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = {404: "no such page or endpoint", 405: f"{request.method} is not allowed here"}.get(
            exc.status_code, str(exc.detail)
        )
        return refusal(exc.status_code, message, dict(exc.headers or {}))

    async def crashed(request: Request, exc: Exception) -> Response:
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return refusal(
            500, f"internal error ({getattr(exc, 'kind', type(exc).__name__)}); the server's log has the details"
        )

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/assets/{name}", asset, methods=["GET"]),
        Route("/api/session", session, methods=["GET"]),
        Route("/api/spec/check", check, methods=["POST"]),
        Route("/api/spec/save", save, methods=["POST"]),
        Route("/api/model/look", look, methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={Refused: refused, HTTPException: http_error, Exception: crashed})
    return Guard(app, hosts, csp(), (arriving, checking, looking))
