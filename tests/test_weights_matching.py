"""`--weights` from a different network: position matching is only for the same network under other names.

The user's case was an EfficientNet file given to a MobileNetV2 spec: "transferred 81 of 262 weight tensors
(1 layers by name, 28 layers by position)", exit 0 — the layers that received weights were whatever
happened to have the same shape in the same order. The small networks here have the same shape of problem:
a mobile block and an EfficientNet-like block (the same convolutions plus a squeeze-and-excitation pair)
share many kinds and shapes, in another order.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

import archspec
from archspec.cli import main
from archspec.errors import SpecError

STEM = [
    {
        "conv": {
            "depth": 8,
            "kernel": 3,
            "stride": 2,
            "padding": "same",
            "bn": True,
            "activation": "relu",
            "name": "stem",
        }
    }
]
HEAD = [{"pool": {"kind": "avg", "global": True}}, {"dense": {"units": 10, "activation": "softmax", "name": "head"}}]


def mobile(prefix: str = "m") -> dict:
    """Inverted residual blocks without squeeze-and-excitation (MobileNetV2-like)."""
    layers = list(STEM)
    for i in range(2):
        layers += [
            {"conv": {"depth": 16, "kernel": 1, "bn": True, "activation": "relu", "name": f"{prefix}{i}_expand"}},
            {
                "depthwise": {
                    "kernel": 3,
                    "padding": "same",
                    "bn": True,
                    "activation": "relu",
                    "name": f"{prefix}{i}_dw",
                }
            },
            {"conv": {"depth": 8, "kernel": 1, "bn": True, "name": f"{prefix}{i}_project"}},
        ]
    return copy.deepcopy({"name": "mobileish", "input": [32, 32, 3], "layers": layers + HEAD})


def efficient() -> dict:
    """The same blocks with a squeeze-and-excitation pair of 1x1 convolutions after the depthwise one."""
    layers = list(STEM)
    for i in range(2):
        layers += [
            {"conv": {"depth": 16, "kernel": 1, "bn": True, "activation": "relu", "name": f"e{i}_expand"}},
            {"depthwise": {"kernel": 3, "padding": "same", "bn": True, "activation": "relu", "name": f"e{i}_dw"}},
            {"conv": {"depth": 4, "kernel": 1, "activation": "relu", "name": f"e{i}_se_reduce"}},
            {"conv": {"depth": 16, "kernel": 1, "activation": "sigmoid", "name": f"e{i}_se_expand"}},
            {"conv": {"depth": 8, "kernel": 1, "bn": True, "name": f"e{i}_project"}},
        ]
    return copy.deepcopy({"name": "efficientish", "input": [32, 32, 3], "layers": layers + HEAD})


@pytest.fixture(scope="module")
def efficient_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("eff") / "efficientish.keras"
    archspec.save_model(archspec.build(efficient()), path)
    return path


def test_another_network_is_refused_naming_where_the_two_part(efficient_file) -> None:
    with pytest.raises(SpecError) as caught:
        archspec.build(mobile(), weights=str(efficient_file))
    error = caught.value
    assert error.file == str(efficient_file)
    assert "efficientish.keras is not mobileish under other names" in error.message
    assert "after 3 layers matched by name" in error.message  # stem, its batch norm and head share names
    # the first layer of the rest where the networks part: the projection where the source has its SE reduction
    assert (
        "mobileish has m0_project_conv (conv2d: kernel 1x1x16x8, bias 8) where the source has e0_se_reduce (conv2d: "
        "1x1x16x4, 4)" in error.message
    )
    assert "--weights-by-shape" in (error.hint or "")


def test_the_cli_refuses_it_with_exit_2_and_writes_nothing(efficient_file, tmp_path, capsys) -> None:
    spec = tmp_path / "mobileish.yaml"
    import yaml

    spec.write_text(yaml.safe_dump(mobile()))
    out = tmp_path / "m.keras"
    assert main(["build", str(spec), "--weights", str(efficient_file), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and not out.exists()
    assert err.startswith(f"{efficient_file}: efficientish.keras is not mobileish under other names"), err
    assert "  hint: " in err and "--weights-by-shape" in err


def test_asked_for_explicitly_layers_are_paired_by_shape_and_reported_so(efficient_file, tmp_path, capsys) -> None:
    model = archspec.build(mobile(), weights=str(efficient_file), weights_by_shape=True)
    report = model.transfer
    assert {e.match for e in report.transferred} == {"name", "shape"}
    assert "layers by shape" in report.text()
    assert ("m0_dw_depthwise", "e0_dw_depthwise", "shape") in {(e.layer, e.source, e.match) for e in report.transferred}
    spec = tmp_path / "mobileish.yaml"
    import yaml

    spec.write_text(yaml.safe_dump(mobile()))
    assert (
        main(
            [
                "build",
                str(spec),
                "--weights",
                str(efficient_file),
                "--weights-by-shape",
                "-o",
                str(tmp_path / "m.keras"),
            ]
        )
        == 0
    )
    assert "layers by shape" in capsys.readouterr().out


def test_the_same_network_renamed_is_still_matched_by_position(tmp_path) -> None:
    """A renamed copy (names differ everywhere, kinds and order the same) receives every tensor, by position."""
    import keras

    keras.utils.set_random_seed(3)
    source = archspec.build(mobile("a"))
    path = tmp_path / "a.keras"
    archspec.save_model(source, path)
    renamed = mobile("b")
    renamed["layers"][0]["conv"]["name"] = "first"
    renamed["layers"][-1]["dense"]["name"] = "last"
    model = archspec.build(renamed, weights=str(path))
    assert model.transfer.complete and {e.match for e in model.transfer.transferred} == {"position"}
    x = np.random.default_rng(0).standard_normal((2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(model(x, training=False)), np.asarray(source(x, training=False)), atol=1e-6)


def test_the_same_network_renamed_with_a_wider_head_reports_the_head_by_position(tmp_path) -> None:
    source = archspec.build(mobile("a"))
    path = tmp_path / "a.keras"
    archspec.save_model(source, path)
    renamed = mobile("b")
    renamed["layers"][-1] = {"dense": {"units": 5, "activation": "softmax", "name": "five"}}
    report = archspec.build(renamed, weights=str(path)).transfer
    assert [(e.layer, e.source, e.match) for e in report.shape_differs] == [("five", "head", "position")]
    assert not report.new and not report.unused


def test_a_new_head_beside_name_matches_is_not_a_guess(tmp_path) -> None:
    """Layers left on both sides that no guess would pair (other shapes) are new and unused, not refused."""
    source = archspec.build(mobile("a"))
    path = tmp_path / "a.keras"
    archspec.save_model(source, path)
    changed = mobile("a")
    changed["layers"][-1:] = [
        {"dense": {"units": 32, "activation": "relu", "name": "hidden"}},
        {"dense": {"units": 3, "activation": "softmax", "name": "three"}},
    ]
    report = archspec.build(changed, weights=str(path)).transfer
    assert [e.layer for e in report.new] == ["hidden", "three"] and [e.source for e in report.unused] == ["head"]
