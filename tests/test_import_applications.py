"""`archspec import` over every model of keras.applications: the spec it writes has the model's
layers, shapes and parameter count, layer by layer (the importer checks that itself before it returns).

Weight parity of the imported specs, for the twelve modern networks, is in tests/test_zoo.py (it
reuses the reference model built there). Here the models are built without drawing initial weights
(keras.StatelessScope(initialize_variables=False)): an import reads the graph and the shapes only,
and building 40 networks with weights would take minutes longer.
"""

from __future__ import annotations

import keras
import pytest
from conftest import without_weights

import archspec
from archspec.keras_side.importer import import_model

CONSTRUCTORS = sorted(name for name in dir(keras.applications) if name[0].isupper())
OPEN_SIZE = {"MobileNetV3Small", "MobileNetV3Large"}
"""Constructors whose default input leaves height and width open: imported at 224x224."""
HEAVY = {
    "ConvNeXtBase",
    "ConvNeXtLarge",
    "ConvNeXtXLarge",
    "EfficientNetB5",
    "EfficientNetB6",
    "EfficientNetB7",
    "EfficientNetV2S",
    "EfficientNetV2M",
    "EfficientNetV2L",
    "InceptionResNetV2",
    "NASNetLarge",
    "NASNetMobile",
}


def operations(model) -> int:
    """Keras layers and operations in the model, those of nested models (ConvNeXt's stem) counted in place."""
    ops = model.layers if isinstance(model, keras.Sequential) else model.operations
    return sum(operations(op) if isinstance(op, keras.Model) else type(op).__name__ != "InputLayer" for op in ops)


def test_all_forty():
    assert len(CONSTRUCTORS) == 40, CONSTRUCTORS


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=[pytest.mark.slow] if n in HEAVY else []) for n in CONSTRUCTORS]
)
def test_every_keras_application_imports(name):
    with without_weights():
        model = getattr(keras.applications, name)(weights=None)
        text = import_model(model, input_shape=(224, 224, 3) if name in OPEN_SIZE else None)
        report = archspec.shapes(archspec.loads(text), max_params=None, max_activations=None)
        assert report.total_params == model.count_params()
        assert len(report.layers) == operations(model)  # one spec layer per Keras layer or operation
