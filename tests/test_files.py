"""The one write helper (`archspec/files.py`): every write flushed to the disk, refused writes as one clear line with
nothing half-written left, and the temporaries of killed writers removed by the next write into their folder."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest

from archspec import files
from archspec.cli import main

DENSE = "name: tiny\ninput: [8, 8, 1]\nlayers: [flatten, {dense: {units: 3, activation: softmax}}]\n"


@pytest.mark.parametrize(
    "code", [errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT, errno.EFBIG], ids=errno.errorcode.get
)
def test_every_refused_write_is_one_line_naming_the_file(tmp_path, monkeypatch, capsys, code) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(DENSE)

    def refused(path):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(files, "fsync", refused)
    out = tmp_path / "out"
    assert main(["build", str(spec), "-o", str(out / "tiny.keras"), "-q"]) == 74  # the machine's doing, not the spec's
    err = capsys.readouterr().err
    reason = files.REFUSED[code][0]
    assert os.strerror(code).lower() in reason
    assert err.startswith(f"{out}/tiny.keras: cannot write: {reason} (nothing half-written is left)\n  hint: "), err
    assert "Traceback" not in err
    assert list(out.iterdir()) == []
    assert main(["export", str(spec), "--format", "savedmodel", "-o", str(out / "tiny_savedmodel")]) == 74
    assert f"{out}/tiny_savedmodel: cannot write: {reason}" in capsys.readouterr().err
    assert list(out.iterdir()) == []


def test_a_write_error_inside_a_writer_is_translated_too(tmp_path) -> None:
    """Keras, zipfile and h5py raise the OSError themselves, sometimes wrapped in their own exception."""
    with (
        pytest.raises(files.WriteError, match="no space left on device"),
        files.atomic_path(tmp_path / "m.keras") as tmp,
    ):
        tmp.write_bytes(b"half")
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            raise RuntimeError("the writer's own wording") from exc
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(FileNotFoundError), files.atomic_path(tmp_path / "m.keras"):  # not the disk's doing: unchanged
        raise FileNotFoundError(errno.ENOENT, "elsewhere")


def test_export_removes_stale_temporaries_too(tmp_path) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(DENSE)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(gone.stdout)
    stale = tmp_path / "out" / f".tiny_savedmodel.{dead}.tmp"
    (stale / "variables").mkdir(parents=True)
    (stale / "saved_model.pb").write_bytes(b"half")
    old = tmp_path / "out" / f".tiny.keras.{dead}.old"
    old.write_bytes(b"swapped out")
    assert main(["export", str(spec), "--format", "savedmodel", "-o", str(tmp_path / "out" / "tiny_savedmodel")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["tiny_savedmodel"]


# ----------------------------------------------------------------------------- durability


def test_every_write_is_flushed_before_its_rename_and_the_folder_after(tmp_path, monkeypatch) -> None:
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("rename", str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "a" / "report.json"
    files.write_text(target, "{}")
    tmp = files.temporary_name(target)
    assert events == [("fsync", str(tmp)), ("rename", str(target)), ("fsync", str(target.parent))]
    events.clear()
    with files.atomic_path(tmp_path / "saved") as folder:  # a folder (SavedModel): every file and folder in it
        (folder / "sub").mkdir(parents=True)
        (folder / "sub" / "w.bin").write_bytes(b"w")
    assert events == [
        ("fsync", str(folder / "sub" / "w.bin")),
        ("fsync", str(folder / "sub")),
        ("fsync", str(folder)),
        ("rename", str(tmp_path / "saved")),
        ("fsync", str(tmp_path)),
    ]
