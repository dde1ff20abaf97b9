"""The graph IR and the passes over it: expansion (spec -> IR), inference (shapes, counts,
receptive fields), lint rules (warnings), and the IR written back as spec data.

``graph_of``, ``checked`` and ``shapes`` are what the layers above ask for: ``checked`` is the one path by
which `validate`, `shapes`, `build`, `serve` and `train` check a spec (shapes, budgets, the training
section against the network, lint warnings).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from ..errors import Problem
from ..spec.figures import own_variant
from ..spec.loading import SpecLike, coerce
from .checks import check, tasks
from .expand import expand
from .freeze import as_trained, refreeze
from .infer import MAX_ACTIVATIONS, MAX_PARAMS, infer
from .ir import Graph
from .lint import lint
from .report import Report


def graph_of(
    spec: SpecLike,
    *,
    include_top: bool = True,
    pooling: str | None = None,
    features: Sequence[str] | None = None,
    **overrides: Any,
) -> Graph:
    """The expanded graph IR of a spec (a spec model, a path, text or a dict), frozen as its training section says.

    ``include_top=False`` leaves a classifier's head out and ``pooling`` ('avg', 'max') pools the last feature map
    then, as keras.applications' arguments of those names (``backbone.py``); ``features`` (``stride4`` .. ``stride32``
    or layer names) adds the feature maps there as outputs: every consumer reads this graph."""
    model = coerce(spec, overrides)
    graph = expand(model)
    if not include_top or pooling is not None or features:  # imported here: a whole network does not pay for it
        from .backbone import backbone

        graph = backbone(graph, include_top, pooling, features)
    return as_trained(graph, getattr(model, "training", None))


def checked(
    spec: SpecLike,
    *,
    include_top: bool = True,
    pooling: str | None = None,
    features: Sequence[str] | None = None,
    training: Any = None,
    freeze_origin: str | None = None,
    max_params: int | None = MAX_PARAMS,
    max_activations: int | None = MAX_ACTIVATIONS,
    freeze: Sequence[str] | None = None,
    freeze_bn: bool | None = None,
    **overrides: Any,
) -> tuple[Graph, Report]:
    """The graph and its static report, every check that needs no data passed; SpecError otherwise.

    ``training``: the recipe in force when it is not the spec's own (`train`'s, with its overrides applied);
    ``freeze_origin``: the option its freeze list came from (``--freeze``), named in errors instead of the spec."""
    model = coerce(spec, overrides)
    declared = getattr(model, "training", None)
    section = training if training is not None else declared
    graph = refreeze(
        graph_of(model, include_top=include_top, pooling=pooling, features=features), declared, freeze, freeze_bn
    )
    report = infer(graph, max_params=max_params, max_activations=max_activations)
    check(graph, report, section, declared=section is not None, freeze_origin=freeze_origin)
    # a backbone's output is features, not logits a loss reads: the logits rule has nothing to judge there
    whole = include_top and not features
    report.warnings.extend(lint(graph, report, tasks(graph, report, section) if whole else {}))
    # the stated figure is the whole network's, under the values the caller gave (unknown for a spec model)
    if whole and pooling is None and not isinstance(spec, BaseModel):
        report.warnings.extend(_reference_problems(model, overrides, graph, report))
    return graph, report


def _reference_problems(model: Any, overrides: dict[str, Any], graph: Graph, report: Report) -> list[Problem]:
    """A warning when the spec's `reference` states another parameter count than its layers give."""
    reference = getattr(model, "reference", None)
    if reference is None:
        return []
    frozen = any(node.frozen for node in graph.nodes)
    own = own_variant(model.variables, model.variants)
    wrong = reference.mismatch(overrides, report.total_params, None if frozen else report.trainable_params, own)
    return [] if wrong is None else [graph.problem(("reference", *wrong[0]), wrong[1], wrong[2])]


def shapes(
    spec: SpecLike,
    *,
    include_top: bool = True,
    pooling: str | None = None,
    features: Sequence[str] | None = None,
    max_params: int | None = MAX_PARAMS,
    max_activations: int | None = MAX_ACTIVATIONS,
    freeze: Sequence[str] | None = None,
    freeze_bn: bool | None = None,
    **overrides: Any,
) -> Report:
    """Static shapes, parameters, MACs, receptive fields and warnings; pure Python, no TensorFlow.

    Models over the parameter or activation budget are refused (None disables a budget). ``freeze`` and
    ``freeze_bn`` replace the spec's ``training.freeze`` / ``freeze_bn`` (the counts then say what trains).
    The spec's training section is checked against the network (``checks.py``), as `train` checks it.
    ``include_top=False`` / ``pooling`` / ``features``: the classifier as a backbone (see ``graph_of``)."""
    return checked(
        spec,
        include_top=include_top,
        pooling=pooling,
        features=features,
        max_params=max_params,
        max_activations=max_activations,
        freeze=freeze,
        freeze_bn=freeze_bn,
        **overrides,
    )[1]
