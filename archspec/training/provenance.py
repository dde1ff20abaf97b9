"""What a run folder trusts on resume: digests of how the run started, and a record of each change asked for since.

A new run records in ``run.json`` a digest of its network (the spec without its
training section), of its training settings and of each data source (count,
class names, labels and a sample of the pixels). A resumed run recomputes them
from the folder's ``spec.yaml`` and from the data it reads now, and refuses any
difference nobody asked for: a network edited in ``spec.yaml`` (the checkpoint
would silently keep the old one), training settings edited there (they would
silently take effect), data that changed under the same name. What the command
line changes explicitly (``--epochs``, ``--data``, ``--val``, ``--strategy``,
``--jit``) is accepted and appended to ``run.json``'s ``changes``, each with the
epoch it applies after, so the folder says which data trained which epochs.

Folders written before digests were recorded resume as before; their next
recorded change records the digests too. No TensorFlow here.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel

from ..errors import Problem, SpecError
from ..spec.training import Training
from .data import Images

SAMPLED = 256
"""Images per source whose pixels go into its digest (evenly spaced; every label always does)."""


def digest(value: Any) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def network_digest(spec: BaseModel) -> str:
    """The network as validated: formatting, comments, the description and the name do not count."""
    return digest(spec.model_dump(mode="json", by_alias=True, exclude={"training", "description", "name"}))


LATER_FIELDS = (
    "precise_bn",
    "accumulate",
    "log",
    "data.augment.crop",
    "data.augment.zoom",
    "data.augment.rotate",
    "data.augment.brightness",
    "data.augment.contrast",
    "data.augment.saturation",
    "data.augment.hue",
    "data.augment.randaugment",
    "data.augment.erase",
    "data.augment.mixup",
    "data.augment.cutmix",
)
"""Fields of `training` (dotted: inside its sections) added after run folders began recording digests: left out of
the digest while at their default, so a folder written before them still resumes (with the default in force)."""


def training_digest(training: Training) -> str:
    data = training.model_dump(mode="json")
    defaults = type(training)().model_dump(mode="json")
    for path in LATER_FIELDS:
        *parents, name = path.split(".")
        here, default = data, defaults
        for part in parents:
            here, default = here.get(part) or {}, default.get(part) or {}
        if name in here and here[name] == default.get(name):
            here.pop(name)
    return digest(data)


def data_digest(images: Images) -> str:
    """Count, class names, every label, sizes, and the pixels of up to SAMPLED images: cheap, yet a different slice,
    a relabelled set or other pictures under the same name all change it."""
    h = hashlib.sha256(json.dumps([images.count, images.class_names, sorted(map(str, images.sizes.items()))]).encode())
    if images.y is not None:
        h.update(np.ascontiguousarray(images.y).tobytes())
    if images.weights is not None:  # a source that weighs its examples (unweighted ones digest as before)
        h.update(b"weights" + np.ascontiguousarray(images.weights).tobytes())
    if images.x is not None and images.count:
        for i in np.unique(np.linspace(0, images.count - 1, min(SAMPLED, images.count)).astype(np.int64)):
            h.update(np.ascontiguousarray(images.x[i]).tobytes())
    return "sha256:" + h.hexdigest()


def examples_digest(examples: Any) -> str:
    """The same for the data of a network with named inputs or outputs (``data/examples.py``): each input's images
    (as `data_digest`) or vectors, and every target."""
    h = hashlib.sha256(
        json.dumps([examples.count, examples.class_names, sorted(examples.inputs), sorted(examples.targets)]).encode()
    )
    for key in sorted(examples.inputs):
        value = examples.inputs[key]
        h.update(data_digest(value).encode() if isinstance(value, Images) else np.ascontiguousarray(value).tobytes())
    for key in sorted(examples.targets):
        h.update(np.ascontiguousarray(examples.targets[key]).tobytes())
    return "sha256:" + h.hexdigest()


def check_spec(spec: BaseModel, training: Training, run_config: Mapping[str, Any], where: str) -> Training:
    """The training settings a resume may use: those recorded, even when a kill interrupted the rewrite of
    spec.yaml after a recorded --epochs change. A network or settings edited by hand into `where` are refused."""
    recorded = run_config.get("digests") or {}
    if recorded.get("network") and network_digest(spec) != recorded["network"]:
        raise SpecError(
            Problem(
                "the network in this file was edited after the run started; the checkpoints hold the network it "
                "started with, so the edit would be ignored",
                file=where,
                hint="undo the edit to resume, or train the edited spec as a new run",
            )
        )
    if not recorded.get("training") or training_digest(training) == recorded["training"]:
        return training
    last = (run_config.get("changes") or [{}])[-1]
    if "epochs" in last and last.get("training_before") == training_digest(
        training
    ):  # killed before spec.yaml caught up
        caught_up = training.model_copy(update={"epochs": last["epochs"][1]})
        if training_digest(caught_up) == recorded["training"]:
            return caught_up
    raise SpecError(
        Problem(
            "the training settings in this file were edited after the run started; a resumed run keeps its recipe",
            file=where,
            hint="undo the edit (only --epochs may change, on the command line), or train the edited spec as a new run",
        )
    )


RESUMABLE = ("data", "val", "strategy", "jit", "epochs")
"""The settings a resume may change, on the command line only."""


def changes(before: Mapping[str, Any], now: Mapping[str, Any], given: set[str]) -> dict[str, list[Any]]:
    """What differs from the record, as ``{setting: [recorded, now]}``: `before` and `now` hold the RESUMABLE settings
    and the data's digests (``data_digest``, ``val_digest``); `given` names the settings the command line gave.
    Data whose digest differs is refused unless it was given (a source read from arrays is given every time)."""
    out: dict[str, list[Any]] = {}
    for role, option in (("data", "--data"), ("val", "--val")):
        was, is_now = before.get(f"{role}_digest"), now.get(f"{role}_digest")
        if now[role] != before[role] and role in given:
            out[role] = [before[role], now[role]]
        elif was is not None and is_now != was:
            if role not in given:
                raise SpecError(
                    Problem(
                        f"the data at {now[role]} is not the data this run trained on (its digest differs)",
                        file=option,
                        hint=f"restore that data; to continue on this data instead, give {option} explicitly "
                        "(the change is recorded in run.json)",
                    )
                )
            out[f"{role}_digest"] = [was, is_now]
    for key in ("strategy", "jit", "epochs"):
        if now[key] != before[key]:
            out[key] = [before[key], now[key]]
    return out


def record(
    run_config: Mapping[str, Any],
    after_epoch: int,
    change: Mapping[str, list[Any]],
    current: Mapping[str, Any],
    digests: Mapping[str, str | None],
) -> dict[str, Any]:
    """run.json with `change` appended to its changes, and the settings in force (`current`) and their digests
    updated: what a later resume compares against."""
    entry: dict[str, Any] = {"after_epoch": after_epoch, "at": time.strftime("%Y-%m-%dT%H:%M:%S"), **change}
    if "epochs" in change:  # lets a resume killed before spec.yaml caught up recognise the old file (check_spec)
        entry["training_before"] = (run_config.get("digests") or {}).get("training")
    return {
        **run_config,
        **current,
        "digests": {**(run_config.get("digests") or {}), **digests},
        "changes": [*(run_config.get("changes") or []), entry],
    }


def describe(change: Mapping[str, list[Any]]) -> str:
    return ", ".join(f"{key} {was} -> {now}" for key, (was, now) in change.items())
