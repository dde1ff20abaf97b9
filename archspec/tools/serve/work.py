"""Expensive work, bounded: every spec check runs in a worker process with a budget of time, memory and answer size.

Why processes. A check is pure-Python CPU work whose cost the spec decides (a 100-byte ``repeat`` expands to
65,536 layers). A thread cannot be stopped once started: past its budget it would keep a CPU and the
interpreter's lock, and Python waits for it at exit, so neither Ctrl-C nor SIGTERM would end the server. A
process can be killed at its deadline (SIGKILL: nothing to wait for), its memory is capped by the kernel
(``RLIMIT_AS``; the server's own memory is not touched) and the event loop only waits on a pipe. Workers come
from a fork server that has the checker imported already, so a killed worker is replaced in milliseconds, and
the server process, which may hold TensorFlow's threads, is never forked itself.

A ``Pool`` has ``Budget.workers`` processes and lets ``Budget.waiting`` more requests wait for one, for at most
the time budget, so a flood costs a few processes' time and never piles up. Newest first: the page sends only its
latest edit, and an older request is the likelier to be stale. A request that arrives with the waiting room full
takes the place of the oldest one there (refused: 429, with when to retry), and a waiting request stops the
longest-running job once it has run over ``PREEMPT_AFTER`` seconds (429 too). Under a burst of expensive
requests the page's next check thus starts within about a second; a zoo spec checks in well under that.

``Lane`` is the model pane's: its forward passes need the loaded model, so they stay in the server process, on
one daemon thread (Python does not wait for it at exit) behind a bounded queue; an answer past the time budget
is refused (422) without waiting for the pass to end, and an image's size is bounded before it is decoded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import multiprocessing
import os
import queue
import sys
import threading
import time
import types
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .limits import Refused

log = logging.getLogger("archspec.serve")


@dataclass(frozen=True)
class Budget:
    """What one request may cost, and how many may be served or wait at once."""

    seconds: float = 10.0
    """Wall-clock time of the work itself (not the wait for a worker)."""
    memory: int = 1 << 30
    """Address space of a worker process, in bytes."""
    answer: int = 16 << 20
    """Size of the JSON answer, in bytes."""
    workers: int = 2
    """Processes (spec checks) or threads (model) working at once."""
    waiting: int = 4
    """Requests that may wait for a worker; more are refused with 429."""
    headers: float = 10.0
    """Seconds a connection has to send a request's headers, from its opening or from the last answer (slowloris)."""
    body: float = 30.0
    """Seconds a request has to send its body once its headers are in (8 MiB at 280 KB/s); else 408."""


class OverBudget(Refused):
    """Work stopped past its budget: 422, the budget named, and what to do instead."""

    def __init__(self, message: str, budget: dict[str, Any]) -> None:
        super().__init__(422, message, budget=budget)


class Stopping(Refused):
    def __init__(self) -> None:
        super().__init__(503, "the server is stopping")


class Crashed(Exception):
    """An exception in a worker (an archspec bug): ``kind`` is its class name, for the 500's sentence."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


PREEMPT_AFTER = 1.0
"""Seconds a job runs before a newer request may stop it when every worker is busy (a zoo spec checks in
under 0.5 s)."""


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"


def _busy(what: str, budget: Budget) -> Refused:
    wait = math.ceil(PREEMPT_AFTER)  # by then a long job can be stopped for the retry
    return Refused(
        429,
        f"the server is busy with other {what}s ({budget.workers} at work, {budget.waiting} waiting): "
        "try again shortly",
        {"Retry-After": str(wait)},
        retry_after_ms=wait * 1000,
    )


# -- the worker process ---------------------------------------------------------------------------
def _serve_jobs(conn: Any, memory: int, answer: int) -> None:
    """A worker's loop: (function, args) in, ("ok", JSON bytes) or why not out, until the pipe closes."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    except (ImportError, ValueError, OSError):  # not on this platform, or already lower: the time budget still holds
        pass
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            body = json.dumps(fn(*args), ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
            out: tuple[Any, ...] = ("ok", body) if len(body) <= answer else ("answer", len(body))
        except MemoryError:
            out = ("memory",)
        except Refused as exc:
            out = ("refused", exc.status, exc.message, exc.fields)
        except Exception as exc:  # an archspec bug: the server logs it, the client gets a 500 without the details
            import traceback

            out = ("crash", type(exc).__name__, traceback.format_exc())
        try:
            conn.send((out, _peak_rss()))
        except MemoryError:
            conn.send((("memory",), _peak_rss()))


def _peak_rss() -> int:
    """This process's peak resident memory in bytes (0 where unknown): a worker that grew is not given more work."""
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    except (ImportError, OSError):
        return 0


def _context() -> Any:
    """A fork server where the platform has one (fast, and the server's threads are not forked), else spawn."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["archspec.tools.serve.spec_view"])
        return ctx
    return multiprocessing.get_context("spawn")


@contextlib.contextmanager
def _without_main() -> Iterator[None]:
    """multiprocessing has each child import the parent's ``__main__`` again: a script read from stdin cannot be, and
    one without a ``__name__ == "__main__"`` guard would run again (serving again). A worker needs none of it."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


class _Worker:
    def __init__(self, ctx: Any, budget: Budget) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(
            target=_serve_jobs, args=(child, budget.memory, budget.answer), daemon=True, name="archspec-serve-worker"
        )
        with _without_main():
            self.proc.start()
        child.close()

    def kill_process(self) -> None:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            self.proc.kill()

    def kill(self) -> None:
        self.kill_process()
        self.conn.close()

    def reap(self, wait: float = 0) -> None:
        """Collect a killed worker's exit status (it is a zombie until then), waiting at most `wait` seconds."""
        with contextlib.suppress(OSError, ValueError, AssertionError):
            self.proc.join(wait)


def _kill_all(workers: set[_Worker]) -> None:
    for w in list(workers):
        w.kill()


class Pool:
    """Worker processes for one kind of work (``what`` names it in refusals); started on first use."""

    def __init__(self, budget: Budget, what: str = "spec check") -> None:
        self.budget, self.what = budget, what
        self.idle: list[_Worker] = []
        self.all: set[_Worker] = set()
        self.dead: list[_Worker] = []
        self.working = 0
        self.queued: list[asyncio.Future[None]] = []
        self.waits: dict[_Worker, tuple[float, asyncio.Future[None]]] = {}
        self.preempted: set[_Worker] = set()
        self.stopped = False
        self._ctx: Any = None
        weakref.finalize(
            self, _kill_all, self.all
        )  # a pool dropped without stop() (tests' apps) takes its workers with it

    async def run(self, fn: Callable[..., Any], *args: Any) -> bytes:
        """`fn(*args)`'s answer as JSON bytes, computed in a worker within the budget; else a Refused."""
        if self.stopped:
            raise Stopping()
        if self.working >= self.budget.workers:
            await self._wait_for_a_worker()
        else:
            self.working += 1
        try:
            if self.stopped:
                raise Stopping()
            return await self._run(fn, args)
        finally:
            self._release()

    async def _wait_for_a_worker(self) -> None:
        """Wait, newest first, for a worker that a finished, stopped or preempted job hands over; at most the time
        budget."""
        loop = asyncio.get_running_loop()
        if len(self.queued) >= self.budget.waiting:
            if not self.budget.waiting:
                raise _busy(self.what, self.budget)
            oldest = self.queued.pop(0)  # it has waited longest for an answer that is likely stale: it makes room
            if not oldest.done():
                oldest.set_exception(_busy(self.what, self.budget))
        turn = loop.create_future()
        self.queued.append(turn)

        timer: asyncio.TimerHandle

        def poke() -> None:  # a waiting request stops a job once it has run over PREEMPT_AFTER, then looks again
            nonlocal timer
            if not turn.done():
                timer = loop.call_later(self._preempt(), poke)

        timer = loop.call_later(0, poke)
        try:
            # handed a slot by a request that finished (working is not decremented in between)
            await asyncio.wait_for(turn, self.budget.seconds)
        except BaseException as exc:
            if turn in self.queued:
                self.queued.remove(turn)
            if turn.done() and not turn.cancelled() and turn.exception() is None:
                self._release()  # handed a slot, then cancelled (the client went away): pass it on
            if isinstance(exc, asyncio.TimeoutError):
                raise _busy(self.what, self.budget) from None
            raise
        finally:
            timer.cancel()

    async def warm(self) -> None:
        """Start one worker ahead of the first request (the fork server imports the checker once, about a second)."""
        if not self.idle and not self.all and not self.stopped:
            worker = await self._worker()
            if self.stopped:
                self._discard(worker)
            else:
                self.idle.append(worker)

    def _release(self) -> None:
        while self.queued:
            turn = self.queued.pop()  # the newest first: the page only ever waits for its latest edit
            if not turn.done():
                turn.set_result(None)
                return
        self.working -= 1

    def _preempt(self) -> float:
        """Stop the longest-running job if it has run over PREEMPT_AFTER seconds (its client is told to retry), so
        that a waiting request (the page's latest edit) is not kept behind expensive ones; the seconds until one
        may be stopped."""
        now = time.monotonic()
        running = [(started, w) for w, (started, _) in self.waits.items() if w not in self.preempted]
        if not running:
            return PREEMPT_AFTER
        started, worker = min(running, key=lambda sw: sw[0])
        if now - started < PREEMPT_AFTER:
            return started + PREEMPT_AFTER - now
        self.preempted.add(worker)
        worker.kill_process()  # its pipe closes: the request waiting on it is answered at once, and its slot handed on
        return PREEMPT_AFTER

    async def _worker(self) -> _Worker:
        if self.idle:
            return self.idle.pop()
        for w in self.dead:
            w.reap()
        self.dead = [w for w in self.dead if w.proc.exitcode is None]
        if self._ctx is None:
            self._ctx = await asyncio.to_thread(_context)
        worker = await asyncio.to_thread(
            _Worker, self._ctx, self.budget
        )  # the first one waits for the fork server to import
        self.all.add(worker)
        if self.stopped:
            self._discard(worker)
            raise Stopping()
        return worker

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        self.all.discard(worker)
        self.dead.append(worker)

    async def _run(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> bytes:
        worker = await self._worker()
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        fd = worker.conn.fileno()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, wake)
        started = time.monotonic()
        self.waits[worker] = (started, ready)
        try:
            worker.conn.send((fn, args))
            await asyncio.wait_for(ready, self.budget.seconds)
            out, rss = worker.conn.recv()
        except TimeoutError:
            out = ("time",)
        except (EOFError, OSError):
            out = ("preempted",) if worker in self.preempted else ("died",)
        finally:
            loop.remove_reader(fd)  # before the pipe may be closed below: its number could be reused
            self.waits.pop(worker, None)
        if self.stopped:
            raise Stopping()
        kind = out[0]
        reusable = kind in ("ok", "answer", "refused", "crash") and rss <= self.budget.memory // 2
        if reusable and len(self.idle) < self.budget.workers:
            self.idle.append(worker)
        else:
            # past its time, dead, out of memory, or grown (Python keeps what it once allocated, and the next job
            # would meet the limit sooner): a fresh worker takes the next request
            self._discard(worker)
        if kind == "ok":
            answer: bytes = out[1]
            return answer
        if kind == "preempted":
            self.preempted.discard(worker)
            wait = max(1, math.ceil(self.budget.seconds / 2))
            raise Refused(
                429,
                f"stopped after {time.monotonic() - started:.1f} s to serve a newer request (every worker was busy); "
                "try again shortly",
                {"Retry-After": str(wait)},
                retry_after_ms=wait * 1000,
            )
        if kind == "time":
            raise OverBudget(
                f"stopped after {self.budget.seconds:g} s, the server's time budget for a {self.what}",
                {"seconds": self.budget.seconds},
            )
        if kind == "answer":
            raise OverBudget(
                f"the answer would be {_size(out[1])}, over the server's budget of {_size(self.budget.answer)}",
                {"answer": self.budget.answer},
            )
        if kind == "memory":
            raise OverBudget(
                f"the {self.what} needed more than {_size(self.budget.memory)}, the server's memory budget",
                {"memory": self.budget.memory},
            )
        if kind == "died":
            worker.reap(0.2)  # its pipe closed as it ended: the status follows within moments (a rare path)
            code = worker.proc.exitcode
            killed = code == -9  # not by this server (it would know): the system's out-of-memory killer, most likely
            raise OverBudget(
                f"the {self.what}'s process ended unexpectedly "
                f"({'signal ' + str(-code) if code and code < 0 else 'exit status ' + str(code)})"
                + ("; the system may have run out of memory" if killed else ""),
                {"memory": self.budget.memory},
            )
        if kind == "refused":
            raise Refused(out[1], out[2], **out[3])
        log.error("internal error in a %s (%.1f s):\n%s", self.what, time.monotonic() - started, out[2])
        raise Crashed(out[1])

    def stop(self) -> None:
        """Kill every worker now and answer whoever waits: the server is going away."""
        self.stopped = True
        for w in list(self.all):
            w.kill_process()
        for _, ready in self.waits.values():
            if not ready.done():
                ready.set_exception(Stopping())
        for turn in self.queued:
            if not turn.done():
                turn.set_exception(Stopping())
        self.idle.clear()


class Lane:
    """Work that must stay in this process (the model pane: TensorFlow and the loaded model), on daemon threads."""

    def __init__(self, budget: Budget, what: str = "model") -> None:
        self.budget, self.what = budget, what
        self.jobs: queue.Queue[Any] = queue.Queue(maxsize=budget.waiting)
        self.threads: list[threading.Thread] = []
        self.stopped = False
        self.lock = threading.Lock()
        self.pending: set[asyncio.Future[Any]] = set()

    def _serve(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            loop, future, fn, args = job
            try:
                result: tuple[bool, Any] = (True, fn(*args))
            except BaseException as exc:  # handed to the request that asked, raised there
                result = (False, exc)
            with contextlib.suppress(RuntimeError):  # the server stopped (its loop closed) while this ran: nobody waits
                loop.call_soon_threadsafe(_settle, future, result)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self.stopped:
            raise Stopping()
        with self.lock:
            if not self.threads:
                for _ in range(max(1, self.budget.workers)):
                    t = threading.Thread(target=self._serve, daemon=True, name="archspec-serve-model")
                    t.start()
                    self.threads.append(t)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        try:
            self.jobs.put_nowait((loop, future, fn, args))
        except queue.Full:
            raise _busy(self.what + " request", self.budget) from None
        self.pending.add(future)
        try:
            return await asyncio.wait_for(
                future, self.budget.seconds
            )  # on timeout the future is cancelled: its result is dropped
        except TimeoutError:
            raise OverBudget(
                f"no answer after {self.budget.seconds:g} s, the server's time budget for a {self.what} request",
                {"seconds": self.budget.seconds},
            ) from None
        finally:
            self.pending.discard(future)

    async def warm(self) -> None:
        """Nothing to start ahead: the threads start with the first request."""

    def stop(self) -> None:
        """Answer whoever waits; the threads are daemons, so the process does not wait for a pass under way."""
        self.stopped = True
        for future in self.pending:
            if not future.done():
                future.set_exception(Stopping())


def _settle(future: asyncio.Future[Any], result: tuple[bool, Any]) -> None:
    if future.done():  # stopped, or nobody waits any more
        return
    ok, value = result
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))
