"""`fit: auto` pads smaller images: when the padding leaves the images a small part of the input (28x28 digits in a
96x96 input fill 8.5 % of it), training warns and says how to resize instead."""

from __future__ import annotations

import numpy as np
import pytest

import archspec
from archspec.training import data as D

SPEC = "name: tiny\ninput: [{side}, {side}, 1]\nlayers: [flatten, {{dense: {{units: 10, activation: softmax}}}}]\n"


def cfg(fit: str = "auto"):
    return archspec.loads(SPEC.format(side=96) + f"training: {{data: {{fit: {fit}}}}}\n").training.data


def digits(n: int = 2, side: int = 28):
    return D.from_arrays(np.zeros((n, side, side), np.uint8), np.arange(n) % 10, "digits")


def test_digits_padded_into_96x96_are_warned_about_with_the_way_to_resize():
    (warning,) = D.plan(digits(), (96, 96, 1), 10, cfg()).warnings
    assert "fit auto pads 28x28 images into the 96x96 input, where they fill 8.5% of it" in warning
    assert "training.data.fit: resize (--fit resize)" in warning


@pytest.mark.parametrize(
    "side, target, fit",
    [(28, 32, "auto"), (28, 56, "auto"), (28, 96, "pad"), (28, 96, "resize"), (96, 96, "auto")],
    ids=["lenet", "a quarter", "pad chosen", "resize chosen", "same size"],
)
def test_quiet_when_the_content_fills_the_input_or_the_user_chose(side, target, fit):
    assert D.plan(digits(side=side), (target, target, 1), 10, cfg(fit)).warnings == ()


def test_train_prints_the_warning(tmp_path):
    x = np.random.default_rng(0).integers(0, 255, (20, 28, 28), dtype=np.uint8)
    lines: list[str] = []
    archspec.train(
        archspec.loads(SPEC.format(side=96)),
        data=(x, np.arange(20) % 10),
        epochs=1,
        verbose=2,
        log=lines.append,
        run_dir=tmp_path / "run",
        training={"batch_size": 10},
    )
    warnings = [line for line in lines if line.startswith("warning:")]
    assert len(warnings) == 1 and "fill 8.5% of it" in warnings[0] and "--fit resize" in warnings[0]
