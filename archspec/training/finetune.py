"""Fine-tuning inside `archspec train`: the weights a run starts from, frozen layers, and phases.

A run with ``training.phases`` trains them one after the other: each phase
freezes what it names (``graph/freeze.py``), gets a fresh optimizer at its own
learning rate and schedule, and covers its own epochs. The run folder records
epochs across phases, so a run killed in phase 2 resumes in phase 2: in the
middle of a phase from the checkpoint (model, frozen layers and optimizer
state), at the start of one with that phase's freezing and a fresh optimizer,
exactly as an uninterrupted run does there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from ..graph import checked, graph_of
from ..graph.freeze import frozen_nodes
from ..keras_side.emitter import build as build_model
from ..keras_side.emitter import set_frozen
from ..keras_side.weights import TransferReport, resolve
from ..spec.training import Training
from .heads import Network, compile_args

TRANSFER_JSON = "transfer.json"


def check(spec: BaseModel, training: Training, weights: Any, *, freeze_option: bool = False) -> None:
    """Before any data is read or folder made: everything `validate` checks (``graph.checked``: each phase freezes
    real nodes, the heads fit the outputs, ...), with the recipe in force; and the weights source exists.

    ``freeze_option``: the freeze list came from ``--freeze`` (errors name the option, not the spec)."""
    checked(spec, training=training, freeze_origin="--freeze" if freeze_option else None)
    if weights is not None:
        resolve(weights)


def build(
    spec: BaseModel, training: Training, weights: Any = None, strict: bool = False, by_shape: bool = False
) -> tuple[Any, TransferReport | None]:
    """The model frozen as the first phase says, with the weights transferred; and the transfer report."""
    first = training.phase_recipes()[0]
    model = build_model(
        spec,
        weights=weights,
        strict_weights=strict,
        weights_by_shape=by_shape,
        freeze=first.freeze,
        freeze_bn=first.freeze_bn,
    )
    return model, getattr(model, "transfer", None)


def compile_model(
    model: Any, optimizer: Any, training: Training, net: Network, jit: bool | None, steps_per_execution: int = 1
) -> None:
    """Compile with each output's loss, metrics and weight (``heads.py``); `jit` None: Keras decides; the steps per
    execution as ``execution.choose`` chose them."""
    model.compile(
        optimizer=optimizer,
        **compile_args(net, training),
        jit_compile="auto" if jit is None else bool(jit),
        steps_per_execution=steps_per_execution,
    )


def fit(
    model: Any,
    spec: BaseModel,
    training: Training,
    completed: int,
    *,
    dataset: Callable[[int], Any],
    steps: int,
    scope: Callable[[], Any],
    net: Network,
    jit: bool | None,
    steps_per_execution: int = 1,
    **fit_args: Any,
) -> None:
    """``model.fit`` from epoch `completed` to the end, phase by phase; `dataset(first_epoch)` gives the batches."""
    phases = training.phase_recipes()
    if not training.phases:
        model.fit(dataset(completed), epochs=training.epochs, initial_epoch=completed, **fit_args)
        return
    from . import recipe  # imports Keras

    graph = graph_of(spec)
    start = 0
    for phase in phases:
        end = start + phase.epochs
        if completed < end:
            with scope():
                if completed == start:  # the phase begins: its freezing, a fresh optimizer
                    set_frozen(
                        model,
                        frozen_nodes(graph, phase.freeze, bn=phase.freeze_bn),
                        {node.name for node in graph.nodes},
                    )
                    recipe.apply_weight_decay(model, phase.weight_decay)
                    compile_model(model, recipe.make_optimizer(phase, steps), phase, net, jit, steps_per_execution)
                else:  # resumed inside the phase: the checkpoint's optimizer, on this phase's schedule
                    recipe.resume_schedule(model.optimizer, phase, steps)
            model.fit(dataset(completed), epochs=end, initial_epoch=completed, **fit_args)
            if any(getattr(callback, "stopped", False) for callback in fit_args.get("callbacks", ())):
                return  # early stopping ends the run, not just the phase
            completed = end
        start = end
