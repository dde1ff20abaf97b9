"""`archspec render`: a spec with every template, repeat, variable and default resolved, as YAML."""

from __future__ import annotations

from typing import Any

from ..graph.expand import expand
from ..graph.to_spec import graph_to_spec
from ..spec.writing import to_yaml


def resolved_yaml(spec: Any) -> str:
    """The fully resolved YAML of a validated spec: primitive layers only, each named."""
    graph = expand(spec)
    training = spec.training.model_dump(exclude_defaults=True) if spec.training is not None else None
    header = f"{spec.name}, fully resolved by `archspec render`: primitive layers only."
    return to_yaml(graph_to_spec(graph, training=training or None, description=spec.description), header)
