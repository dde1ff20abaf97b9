"""The graph IR and the passes over it: expansion (spec -> IR), inference (shapes, counts,
receptive fields), lint rules (warnings), and the IR written back as spec data.

``graph_of`` and ``shapes`` are the two things the layers above ask for.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..spec.loading import SpecLike, coerce
from .expand import expand
from .freeze import as_trained, refreeze
from .infer import MAX_ACTIVATIONS, MAX_PARAMS, infer
from .ir import Graph
from .report import Report


def graph_of(spec: SpecLike, **overrides: Any) -> Graph:
    """The expanded graph IR of a spec (a spec model, a path, text or a dict), frozen as its training section says."""
    model = coerce(spec, overrides)
    return as_trained(expand(model), getattr(model, "training", None))


def shapes(spec: SpecLike, *, max_params: int | None = MAX_PARAMS, max_activations: int | None = MAX_ACTIVATIONS,
           freeze: Sequence[str] | None = None, freeze_bn: bool | None = None, **overrides: Any) -> Report:
    """Static shapes, parameters, MACs, receptive fields and warnings; pure Python, no TensorFlow.

    Models over the parameter or activation budget are refused (None disables a budget). ``freeze`` and
    ``freeze_bn`` replace the spec's ``training.freeze`` / ``freeze_bn`` (the counts then say what trains)."""
    model = coerce(spec, overrides)
    graph = refreeze(graph_of(model), getattr(model, "training", None), freeze, freeze_bn)
    return infer(graph, max_params=max_params, max_activations=max_activations)
