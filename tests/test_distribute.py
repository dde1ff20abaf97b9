"""tf.distribute: MirroredStrategy over two logical CPUs, and two MultiWorkerMirroredStrategy workers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

from conftest import ROOT

import archspec

LENET = str(ROOT / "specs" / "lenet.yaml")
ENV = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}


def test_mirrored_over_two_logical_cpus(mnist_dir, tmp_path) -> None:
    code = f"""
import json, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import archspec
result = archspec.train({LENET!r}, data="idx:{mnist_dir}[:1024]", val="idx:{mnist_dir}[9000:9256]", epochs=1,
                        training={{"batch_size": 64, "seed": 0}}, strategy="mirrored",
                        run_dir={str(tmp_path / "run")!r}, verbose=2)
print("RESULT", json.dumps({{"replicas": result.model.distribute_strategy.num_replicas_in_sync,
                            "history": result.history}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "strategy: mirrored (2 replicas)" in result.stdout
    out = json.loads(result.stdout.split("RESULT", 1)[1])
    assert out["replicas"] == 2 and [r["epoch"] for r in out["history"]] == [1]
    assert out["history"][0]["loss"] < 2.3 and "val_accuracy" in out["history"][0]
    assert archspec.load_model(tmp_path / "run" / "model.keras").count_params() == 63_802


def _free_ports(n: int) -> list[int]:
    """Ports free a moment ago. Another process may take one before the workers bind it: the
    caller retries with fresh ports when a worker reports exactly that."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


_PORT_TAKEN = ("Address already in use", "Failed to add port", "Could not start gRPC server", "bind")


def _run_workers(mnist_dir, tmp_path) -> tuple[list[subprocess.Popen], list[tuple[str, str]]]:
    """Both workers, to the end; when one fails the other is stopped (it would wait for its peer)."""
    tmp_path.mkdir(parents=True)
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs, logs = [], []
    for index in range(2):
        env = {**ENV, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        args = [
            sys.executable,
            str(ROOT / "cli.py"),
            "--verbose",
            "train",
            LENET,
            "--data",
            f"idx:{mnist_dir}[:1024]",
            "--val",
            f"idx:{mnist_dir}[9000:9256]",
            "--epochs",
            "1",
            "--batch-size",
            "64",
            "--strategy",
            "multi-worker",
            "--run-dir",
            str(tmp_path / f"run{index}"),
            "--plain",
        ]
        out = open(tmp_path / f"out{index}", "w+")  # noqa: SIM115 (open while the process runs; read and closed below)
        err = open(tmp_path / f"err{index}", "w+")  # noqa: SIM115 (as `out`)
        logs.append((out, err))
        procs.append(subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=err, text=True))
    try:
        deadline = time.monotonic() + 300
        while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
            if any(p.returncode not in (None, 0) for p in procs):
                break
            time.sleep(0.1)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    outputs = []
    for out, err in logs:
        out.seek(0), err.seek(0)
        outputs.append((out.read(), err.read()))
        out.close(), err.close()
    return procs, outputs


def test_two_multi_worker_processes(mnist_dir, tmp_path) -> None:
    for attempt in range(3):
        procs, outputs = _run_workers(mnist_dir, tmp_path / f"try{attempt}")
        failed = [err for proc, (_, err) in zip(procs, outputs, strict=True) if proc.returncode != 0]
        if not any(marker in err for err in failed for marker in _PORT_TAKEN):
            break  # ran, or failed for a reason other than a port taken meanwhile
    tmp_path = tmp_path / f"try{attempt}"
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
        assert "strategy: multi-worker (2 replicas)" in out
    chief = tmp_path / "run0"
    assert archspec.load_model(chief / "model.keras").count_params() == 63_802
    history = json.loads((chief / "history.json").read_text())
    assert [r["epoch"] for r in history] == [1] and "val_loss" in history[0]
    assert not (tmp_path / "run1").exists()  # the other worker writes to a scratch folder it removes
    # both workers saw the same all-reduced figures
    worker_line = next(line for line in outputs[1][0].splitlines() if line.startswith("epoch 1/1"))
    chief_line = next(line for line in outputs[0][0].splitlines() if line.startswith("epoch 1/1"))
    assert worker_line.split("  ")[1:5] == chief_line.split("  ")[1:5]


def test_multi_worker_without_tf_config_is_a_spec_error(capsys) -> None:
    from archspec.cli import main

    env_backup = os.environ.pop("TF_CONFIG", None)
    try:
        assert main(["train", LENET, "--data", "mnist", "--strategy", "multi-worker"]) == 2
    finally:
        if env_backup is not None:
            os.environ["TF_CONFIG"] = env_backup
    assert "needs the TF_CONFIG environment variable" in capsys.readouterr().err
