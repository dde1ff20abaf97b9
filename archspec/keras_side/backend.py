"""Importing Keras lazily, once, without TensorFlow's C++ start-up banner.

TensorFlow logs oneDNN and CUDA notices to file descriptor 2 before its
logging can be configured, so environment variables cannot silence them;
the import runs with fd 2 pointed at /dev/null instead. Set
ARCHSPEC_TF_LOGS=1 to see them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, Iterator


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
