"""The static report of a network: per-node shapes, parameters, MACs and receptive fields.

Plain data (no arithmetic here): ``infer`` fills it, and the table, diff,
lint rules, drawing and checks read it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import Problem
from ..kinds.registry import Shape


@dataclass(frozen=True, kw_only=True)
class LayerInfo:
    name: str
    type: str
    label: str
    inputs: tuple[str, ...]
    output_shape: Shape
    params: int
    trainable_params: int
    macs: int
    receptive_field: tuple[int, int]
    jump: tuple[int | float, int | float]
    """The cumulative stride; a float where it is a fraction of an input pixel (after an upsampling)."""
    group: int | None = None
    frozen: bool = False
    """Its weights are not trained (``--freeze``, ``training.freeze``)."""

    @property
    def activations(self) -> int:
        return math.prod(self.output_shape)


@dataclass(frozen=True, kw_only=True)
class GroupInfo:
    """One top-level spec layer (a block collapsed to one row)."""

    name: str
    type: str
    label: str
    output_shape: Shape
    params: int
    macs: int
    receptive_field: tuple[int, int]
    nodes: int
    trainable_params: int = 0
    frozen_layers: int = 0
    """Members with weights that are frozen, of `weighted_layers`."""
    weighted_layers: int = 0


@dataclass(frozen=True, kw_only=True)
class Report:
    name: str
    input_shape: Shape
    layers: list[LayerInfo]
    groups: list[GroupInfo] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    """Things a careful engineer wants to know that are not errors (see archspec.lint)."""
    inputs: dict[str, Shape] = field(default_factory=dict)
    """Each input's name and shape (`input_shape` is the first's)."""
    outputs: dict[str, str] = field(default_factory=dict)
    """Each output's name and the layer it is (one unnamed output is named after its layer)."""

    @property
    def several(self) -> bool:
        """More than one input or output: tables name each."""
        return len(self.inputs) > 1 or len(self.outputs) > 1

    @property
    def total_params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def trainable_params(self) -> int:
        return sum(layer.trainable_params for layer in self.layers)

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    @property
    def frozen(self) -> list[str]:
        """Frozen nodes that have weights (freezing the others changes nothing)."""
        return [layer.name for layer in self.layers if layer.frozen and layer.params]

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def activations(self) -> int:
        """Values in every layer's output for one example (a proxy for activation memory)."""
        return sum(layer.activations for layer in self.layers)

    @property
    def output_shape(self) -> Shape:
        """The first output's shape (the only one's, in most networks)."""
        return (
            self.layer(next(iter(self.outputs.values()))).output_shape if self.outputs else self.layers[-1].output_shape
        )

    @property
    def output_shapes(self) -> dict[str, Shape]:
        return {name: self.layer(node).output_shape for name, node in self.outputs.items()}

    def layer(self, name: str) -> LayerInfo:
        for info in self.layers:
            if info.name == name:
                return info
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "inputs": {name: list(shape) for name, shape in self.inputs.items()},
            "outputs": {
                name: {"layer": node, "shape": list(self.layer(node).output_shape)}
                for name, node in self.outputs.items()
            },
            "layers": [
                {
                    "name": layer.name,
                    "type": layer.type,
                    "inputs": list(layer.inputs),
                    "output_shape": list(layer.output_shape),
                    "params": layer.params,
                    "trainable_params": layer.trainable_params,
                    "macs": layer.macs,
                    "receptive_field": list(layer.receptive_field),
                    "jump": list(layer.jump),
                    "frozen": layer.frozen,
                }
                for layer in self.layers
            ],
            "blocks": [
                {**asdict(g), "output_shape": list(g.output_shape), "receptive_field": list(g.receptive_field)}
                for g in self.groups
            ],
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params,
            "frozen": self.frozen,
            "macs": self.macs,
            "activations": self.activations,
        }
