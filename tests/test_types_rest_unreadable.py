"""A TensorFlow error while training on named arrays (a network with several inputs and outputs) reaches the caller
as TensorFlow raised it. The run looks for the broken image file behind such an error only among image sets: it once
asked the named arrays (``Prepared``) for their files too, and that AttributeError hid the real error."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_multi_io import SMALL, small_data

import archspec


def test_a_tensorflow_error_on_named_arrays_is_not_hidden(tmp_path, monkeypatch):
    import tensorflow as tf

    from archspec.training import finetune

    def broken_fit(*args, **kwargs):
        raise tf.errors.InvalidArgumentError(None, None, "a broken input batch")

    monkeypatch.setattr(finetune, "fit", broken_fit)
    spec = tmp_path / "small.yaml"
    spec.write_text(json.dumps({**SMALL, "training": {**SMALL["training"], "epochs": 1}}))
    np.savez(tmp_path / "train.npz", **small_data(16, 0))
    with pytest.raises(tf.errors.InvalidArgumentError, match="a broken input batch"):
        archspec.train(str(spec), data=str(tmp_path / "train.npz"), run_dir=tmp_path / "run", verbose=0)
