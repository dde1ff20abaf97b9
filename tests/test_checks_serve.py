"""`serve` refuses what does not fit before it listens: an unknown --variant or --set key (as `shapes` refuses it), and
a host that is not this machine's is blamed on --host, not on the port. No traffic leaves the machine: the hosts are an
unresolvable name and a documentation address (RFC 5737) that binding refuses locally."""

from __future__ import annotations

import pytest
from conftest import ROOT

from archspec.cli import main
from archspec.tools.serve import run as serve_run

EFFICIENTNET = ROOT / "specs" / "efficientnet.yaml"


@pytest.fixture
def never_listens(monkeypatch):
    """Fail the test instead of serving forever."""

    def listen(host, port):
        raise AssertionError("the server started")

    monkeypatch.setattr(serve_run, "listen", listen)


def refusal(args, capsys) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("option", [["--variant", "b33"], ["--set", "widht=2"]], ids=["variant", "set"])
def test_an_option_the_spec_lacks_is_refused_as_shapes_refuses_it(option, never_listens, capsys):
    shapes = refusal(["shapes", str(EFFICIENTNET), *option], capsys)
    served = refusal(["serve", str(EFFICIENTNET), "--port", "0", *option], capsys)
    assert served == shapes
    assert "did you mean 'b3'?" in served if option[0] == "--variant" else "did you mean 'width'?" in served


def test_a_spec_with_mistakes_still_opens_with_a_variant_it_has(monkeypatch, tmp_path):
    """The page is for fixing a spec: only the options are checked against it."""
    broken = tmp_path / "broken.yaml"
    broken.write_text(EFFICIENTNET.read_text() + "\nlayers: [{conv: {filters: -1}}]\n")
    spec, model = serve_run.views(broken, sets=('variant="b3"',))
    assert model is None and not spec.check(spec.text, spec.sets)["ok"]


@pytest.mark.parametrize(
    "host, blamed",
    [
        ("192.0.2.1", "cannot listen on '192.0.2.1': it is not an address of this machine"),
        (
            "no-such-host.invalid",
            "cannot listen on 'no-such-host.invalid': it is not a name or address this machine can look up",
        ),
    ],
)
def test_a_host_not_on_this_machine_is_blamed_on_the_host(host, blamed, capsys):
    err = refusal(["serve", str(ROOT / "specs" / "lenet.yaml"), "--host", host, "--port", "0"], capsys)
    assert err.startswith(f"--host: {blamed}")
    assert "another program uses this port" not in err and "127.0.0.1" in err


def test_set_on_a_model_without_a_spec_is_refused_not_ignored(tmp_path, never_listens, capsys):
    import archspec

    model = tmp_path / "lenet.keras"
    archspec.save_model(archspec.build(ROOT / "specs" / "lenet.yaml"), model)
    err = refusal(["serve", str(model), "--port", "0", "--set", "classes=3"], capsys)
    assert err.startswith(f"{model}: --set and --variant apply to a spec")
