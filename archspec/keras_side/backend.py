"""Importing Keras lazily, once, without TensorFlow's C++ start-up banner.

TensorFlow logs oneDNN and CUDA notices to file descriptor 2 before its
logging can be configured, so environment variables cannot silence them;
the import runs with fd 2 pointed at /dev/null instead. Set
ARCHSPEC_TF_LOGS=1 to see them.

The command line goes further (``native_logs_hidden``): TensorFlow is imported
from several places, some at module level, and it logs again when it first
looks for devices ("failed call to cuInit"), so for a whole command fd 2 stays
on /dev/null while Python's own stderr keeps the terminal. `--verbose` shows it all.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def _quiet_fd2() -> Iterator[None]:
    if os.environ.get("ARCHSPEC_TF_LOGS") or "tensorflow" in sys.modules:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


@contextlib.contextmanager
def native_logs_hidden() -> Iterator[None]:
    """Point fd 2 at /dev/null, where C++ libraries (TensorFlow, absl, CUDA) log directly, and give
    Python's sys.stderr a duplicate of the real fd 2, so archspec's own messages still show.

    Only when sys.stderr is fd 2 (a captured stderr in tests is left alone). Python-side absl and
    TensorFlow loggers keep only errors."""
    try:
        real = sys.stderr.fileno() == 2
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        real = False
    if not real or os.environ.get("ARCHSPEC_TF_LOGS"):
        yield
        return
    for name in ("absl", "tensorflow"):
        logging.getLogger(name).setLevel(logging.ERROR)
    original = sys.stderr
    original.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    with open(saved, "w", encoding=original.encoding, errors=original.errors, buffering=1, closefd=False) as stream:
        sys.stderr = stream
        try:
            yield
        finally:
            stream.flush()
            sys.stderr = original
            os.dup2(saved, 2)
            os.close(saved)


def keras() -> Any:
    """The keras module (TensorFlow backend unless KERAS_BACKEND says otherwise)."""
    if "keras" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with _quiet_fd2():
            import keras

            if keras.backend.backend() == "tensorflow":  # device discovery prints CUDA notices on CPU-only machines
                import tensorflow as tf

                tf.config.list_physical_devices()
    return sys.modules["keras"]


@contextlib.contextmanager
def deep_recursion(frames: int) -> Iterator[None]:
    """Keras walks functional graphs recursively, a few frames per layer, when it builds or
    loads a model: a 1,000-layer chain exceeds Python's default limit. Raise it for that call only."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, frames))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)
