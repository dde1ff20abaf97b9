"""Class weights (``training.class_weight``): the weight of each class index in the loss, from the spec and the labels.

Keras' ``fit(class_weight=...)`` wants every class index from 0 to classes - 1, so classes a mapping leaves out weigh
1, and `balanced` gives a class without training examples weight 1 (it never weighs anything).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import Problem, SpecError, closest


def balanced(labels: np.ndarray, classes: int) -> dict[int, float]:
    """n / (k * count) for each class present, k the number of classes present (scikit-learn's `balanced`)."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64).ravel(), minlength=classes)
    present = int((counts > 0).sum())
    n = int(counts.sum())
    return {i: (n / (present * int(c)) if c else 1.0) for i, c in enumerate(counts[:classes])}


def class_weights(
    setting: str | Mapping[Any, float] | None,
    labels: np.ndarray,
    names: Sequence[str],
    problem: Callable[[tuple[Any, ...], str, str | None], Problem],
) -> dict[int, float] | None:
    """The weight of each class index (None: unweighted). A mapping's keys are class names or indices; a name the data
    does not have is a located error (`problem` locates it in the spec)."""
    if setting is None:
        return None
    if setting == "balanced":
        return balanced(labels, len(names))
    out = dict.fromkeys(range(len(names)), 1.0)
    for key, weight in setting.items():  # type: ignore[union-attr]  # the one string allowed, balanced, returned above
        if key not in names and (
            isinstance(key, int) or str(key).isdigit()
        ):  # a name first: folders may be named 0, 1, ...
            key = int(key)
            if not 0 <= key < len(names):
                raise SpecError(
                    problem(
                        ("training", "class_weight", key),
                        f"class index {key} is outside 0..{len(names) - 1}",
                        f"the data has {len(names)} classes",
                    )
                )
            out[key] = float(weight)
        elif key in names:
            out[list(names).index(key)] = float(weight)
        else:
            near = closest(str(key), list(names))
            raise SpecError(
                problem(
                    ("training", "class_weight", key),
                    f"class_weight names class {key!r}, which the data does not have",
                    (f"did you mean {near!r}? " if near else "")
                    + f"classes: {', '.join(names[:20])}"
                    + (", ..." if len(names) > 20 else ""),
                )
            )
    return out
