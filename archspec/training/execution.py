"""How a run's training steps execute: compiled by XLA or not, and how many steps each call from Python runs.

Both are chosen before the first step from what archspec knows statically (the device, the network's MACs, the
batch), so the choice is the same every time: a choice timed at run time would differ between two runs of one seed
on a busy machine, and XLA rounds differently from TensorFlow's own kernels, so a seeded run would no longer repeat
exactly, nor a resumed run continue as it began. The choice and its reason go into run.json (``execution``) and
into the epoch lines.

- **XLA** (``jit_compile``): given (``--jit``/``--no-jit``) it is used as given. Otherwise on a GPU Keras decides
  (on, where the model allows it). On a CPU it is off. Measured on this project's 2-core CPU (fit steps on the same
  batches, each way in one process, CPU time per step, as the ``jit`` rows of BENCHMARKS.md's time-to-accuracy
  notes say): XLA made LeNet's step slower (13-14 against 9-10 ms) and ResNet-20's too (218-222 against 168 ms),
  and compiling it costs 3-6 s more CPU before the first step. TensorFlow's own CPU kernels (oneDNN) are what XLA's
  CPU backend competes with, and on these convolutions they win.
- **Steps per execution**: where a step's arithmetic is small, the fixed cost of returning to Python after every
  step (the loop, the callbacks, TensorFlow's dispatch; a few milliseconds on a CPU) is most of the step: LeNet's step
  took 9-10 ms of CPU time one at a time and 5-8 ms 25 at a time. So the run makes each call from Python cover at least
  ``MACS_PER_EXECUTION`` multiply-adds (a step costs about 3x the forward pass's MACs over the batch), at most
  ``MAX_STEPS_PER_EXECUTION`` steps, and a divisor of the epoch's steps: Keras runs whole executions, and one
  that crossed an epoch's end would take the next epoch's batches. The steps are the same steps in the same order,
  so the results do not change (``tests/test_e2e_execution.py`` checks this). Only under the default strategy (one
  replica); callbacks that act per batch then see one call per execution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import Problem, SpecError

MACS_PER_EXECUTION = 1_000_000_000
"""Multiply-adds each call from Python should cover, so that its fixed cost is a small share of it."""
MAX_STEPS_PER_EXECUTION = 64
TRAINING_MACS_FACTOR = 3
"""A training step's MACs per example against the forward pass's: forward, and the two products of the backward."""


@dataclass(frozen=True)
class Execution:
    """What the run's steps execute as, and why (``choose``)."""

    jit: bool | None
    """None: Keras decides (a GPU: on where the model allows it)."""
    jit_reason: str
    steps_per_execution: int
    steps_reason: str

    def record(self) -> dict[str, Any]:
        """run.json's ``execution``."""
        return {
            "jit": self.jit,
            "jit_reason": self.jit_reason,
            "steps_per_execution": self.steps_per_execution,
            "steps_reason": self.steps_reason,
        }

    @property
    def xla(self) -> str:
        return {True: "XLA on", False: "XLA off", None: "XLA as Keras chooses"}[self.jit]

    def short(self) -> str:
        """For the epoch line: ``XLA off, 25 steps/call``."""
        return f"{self.xla}, {self.steps_per_execution} step{'s' if self.steps_per_execution > 1 else ''}/call"

    def describe(self) -> str:
        """For the run's opening lines."""
        return (
            f"{self.xla} ({self.jit_reason}); {self.steps_per_execution} "
            f"step{'s' if self.steps_per_execution > 1 else ''} per call from Python ({self.steps_reason})"
        )


def choose(
    *,
    jit: bool | None,
    gpu: bool,
    macs: int,
    batch_size: int,
    steps_per_epoch: int,
    replicas: int,
    default: bool,
    deterministic: bool,
) -> Execution:
    """The run's execution: `jit` as given (None: the device's rule), and the steps per call from the MACs of one
    forward pass of one example (`macs`), under the default strategy only (`default`).

    XLA asked for in a seeded (`deterministic`) run is refused: the run repeats exactly only under TensorFlow's op
    determinism, which XLA does not support, and Keras would compile without XLA, saying so only in a warning."""
    use_jit: bool | None
    if jit and deterministic:
        raise SpecError(
            Problem(
                "--jit asks for XLA, but this run is seeded (--seed or training.seed) and repeats exactly only under "
                "TensorFlow's op determinism, which XLA does not support",
                file="--jit",
                hint="drop --jit (a CPU is faster without XLA anyway), or drop the seed to compile with XLA",
            )
        )
    if jit is not None:
        use_jit, jit_reason = jit, "given"
    elif gpu:
        use_jit, jit_reason = None, "auto: a GPU, Keras decides"
    else:
        use_jit, jit_reason = False, "auto: a CPU, where TensorFlow's kernels beat XLA's"
    if not default or replicas > 1:
        return Execution(use_jit, jit_reason, 1, "one at a time under a distribution strategy")
    per_step = max(macs, 1) * batch_size * TRAINING_MACS_FACTOR
    wanted = min(MAX_STEPS_PER_EXECUTION, max(1, MACS_PER_EXECUTION // per_step))
    steps = max(d for d in range(1, wanted + 1) if steps_per_epoch % d == 0)
    if steps == 1:
        reason = (
            "a step is large enough"
            if wanted == 1
            else f"no divisor of the {steps_per_epoch} steps per epoch from 2 to {wanted}"
        )
    else:
        reason = (
            f"a step is {per_step / 1e6:,.0f}M multiply-adds; {steps} divides the {steps_per_epoch} steps per epoch"
        )
    return Execution(use_jit, jit_reason, steps, reason)
