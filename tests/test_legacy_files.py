"""Models saved by earlier archspec versions keep loading (custom layers, schedule, loss).

`fixtures/legacy-0.1.keras` was written by archspec 0.1 before the package was reorganised:
a small network with every custom layer (lrn, sum pooling, global sum pooling), compiled with
archspec's sum-of-squares loss and epoch schedule, after one training epoch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import archspec

FIXTURES = Path(__file__).parent / "fixtures"


def test_model_saved_by_0_1_loads_and_gives_its_outputs() -> None:
    model = archspec.load_model(FIXTURES / "legacy-0.1.keras")
    x = np.load(FIXTURES / "legacy-0.1-input.npy")
    want = np.load(FIXTURES / "legacy-0.1-output.npy")
    np.testing.assert_allclose(model.predict(x, verbose=0), want, atol=1e-6)
    kinds = {type(layer).__name__ for layer in model.layers}
    assert {"LocalResponseNormalization", "SumPooling2D", "GlobalSumPooling2D"} <= kinds
    assert type(model.loss).__name__ == "SumSquaredError"
    assert type(model.optimizer._learning_rate).__name__ == "EpochSchedule"
