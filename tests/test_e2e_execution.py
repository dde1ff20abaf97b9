"""How a run's steps execute (training/execution.py): XLA chosen by a fixed rule, several small steps per call from
Python, the same results either way, and the choice recorded in run.json and said on every epoch line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import archspec
from archspec.errors import SpecError
from archspec.training import execution
from archspec.training.callbacks import TIMING

ROOT = Path(__file__).resolve().parent.parent
LENET = str(ROOT / "specs" / "lenet.yaml")
LENET_MACS = 418_600  # one forward pass of one 32x32 digit (`archspec shapes specs/lenet.yaml`)


def choose(**given: Any) -> execution.Execution:
    settings: dict[str, Any] = {
        "jit": None,
        "gpu": False,
        "macs": LENET_MACS,
        "batch_size": 32,
        "steps_per_epoch": 250,
        "replicas": 1,
        "default": True,
        "deterministic": False,
    }
    return execution.choose(**{**settings, **given})


def test_a_small_network_runs_several_steps_per_call_dividing_the_epoch() -> None:
    chosen = choose()
    assert chosen.steps_per_execution == 10  # 40M MACs a step: 24 wanted, 10 the largest divisor of 250 up to it
    assert choose(steps_per_epoch=240).steps_per_execution == 24
    assert choose(steps_per_epoch=251).steps_per_execution == 1  # a prime: no execution may cross the epoch's end
    assert "251 steps per epoch" in choose(steps_per_epoch=251).steps_reason


def test_a_large_network_or_a_strategy_runs_one_step_per_call() -> None:
    assert choose(macs=40_813_184).steps_per_execution == 1  # ResNet-20
    assert choose(replicas=2, default=False).steps_per_execution == 1
    assert choose(default=False).steps_per_execution == 1  # one-device strategy


def test_xla_is_off_on_a_cpu_keras_decides_on_a_gpu_and_a_given_choice_stands() -> None:
    assert choose().jit is False and "CPU" in choose().jit_reason
    assert choose(gpu=True).jit is None
    assert choose(jit=True).jit is True and choose(jit=True).jit_reason == "given"
    assert choose(jit=False, gpu=True).jit is False


@pytest.fixture(scope="module")
def pair(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Path, list[str]]:
    """Two seeded epochs of LeNet on 200 digits (10 steps of 20 each): 5 steps per call (at most 5 allowed: two calls
    an epoch, so an epoch's end falls between calls), and one step per call."""
    tmp = tmp_path_factory.mktemp("execution")
    common: dict[str, Any] = {
        "data": f"idx:{mnist_dir}[:200]",
        "val": f"idx:{mnist_dir}[9000:9100]",
        "epochs": 2,
        "training": {"seed": 5, "batch_size": 20},
    }
    lines: list[str] = []
    saved = execution.MAX_STEPS_PER_EXECUTION
    try:
        execution.MAX_STEPS_PER_EXECUTION = 5
        chosen = archspec.train(LENET, run_dir=tmp / "chosen", verbose=2, log=lines.append, **common)
        execution.MAX_STEPS_PER_EXECUTION = 1
        single = archspec.train(LENET, run_dir=tmp / "single", verbose=0, **common)
    finally:
        execution.MAX_STEPS_PER_EXECUTION = saved
    return chosen, single, tmp, lines


def test_several_steps_per_call_give_the_same_run(pair: tuple[Any, Any, Path, list[str]]) -> None:
    chosen, single, tmp, _ = pair
    ran = json.loads((tmp / "chosen" / "run.json").read_text())["execution"]
    assert ran["steps_per_execution"] == 5 and ran["jit"] is False
    assert json.loads((tmp / "single" / "run.json").read_text())["execution"]["steps_per_execution"] == 1

    def figures(result: Any) -> list[dict[str, Any]]:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in result.history]

    assert figures(chosen) == figures(single)
    for a, b in zip(chosen.model.get_weights(), single.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_opening_and_epoch_lines_say_how_the_steps_ran(pair: tuple[Any, Any, Path, list[str]]) -> None:
    lines = pair[3]
    assert any(line.startswith("strategy: default (1 replica); XLA off (auto: a CPU") for line in lines)
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert len(epochs) == 2 and all("img/s, waited" in line and "  [XLA off, 5 steps/call]" in line for line in epochs)


def test_xla_in_a_seeded_run_is_refused_not_dropped_in_silence() -> None:
    """Keras compiles without XLA under op determinism (a warning only): the run would say "XLA on" and not be."""
    assert choose(jit=True).jit is True
    assert choose(jit=False, deterministic=True).jit is False
    with pytest.raises(SpecError, match=r"seeded .* op determinism, which XLA does not support") as refused:
        choose(jit=True, deterministic=True)
    assert refused.value.hint is not None and "drop --jit" in refused.value.hint
