"""The training recipe in force: the spec's `training` section with overrides applied (no TensorFlow).

Overrides are a flat mapping of keys to values. A key is a field of
`training` (``epochs``, ``batch_size``; CLI spellings such as ``batch-size``
and ``lr`` are accepted) or a dotted path into it (``optimizer.momentum``,
``schedule.kind``, ``data.augment.flip``). A mapping value is merged into the
section it names. Naming a *different* optimizer (``optimizer: sgd`` or
``optimizer.name``) starts that optimizer from its defaults, and likewise a
different schedule kind: settings of the old one would not apply.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import Problem, SpecError
from ..spec.read import Source
from ..spec.training import Training
from ..spec.validate import SECTIONS, translate

ALIASES = {"lr": "learning_rate", "bs": "batch_size", "val_split": "validation_split", "augmentation": "data.augment"}
RESETS = {"optimizer": "name", "schedule": "kind"}
DEFAULT_NAMES = {"optimizer": "adam", "schedule": "constant"}
ORIGIN = "<overrides>"
SHORT_FORMS: dict[str, tuple[tuple[type, str], ...]] = {
    "early_stopping": ((int, "patience"),),
    "precise_bn": ((bool, "enabled"), (int, "batches")),
}
"""Sections a single value may stand for, and the field it fills: a dotted override into one written short expands
it."""


def _expanded(section: str, value: Any) -> dict[str, Any] | None:
    for kind, field in SHORT_FORMS.get(section, ()):
        if isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
            return {field: value}
    return None


def normalise_key(key: str) -> tuple[str, ...]:
    key = str(key).strip().replace("-", "_")
    key = ALIASES.get(key, key)
    parts = tuple(p for p in key.split(".") if p)
    if not parts:
        raise SpecError(Problem(f"empty override key {key!r}", file=ORIGIN))
    head = ALIASES.get(parts[0])
    return (*head.split("."), *parts[1:]) if head else parts


def _merge(into: dict[str, Any], value: Mapping[str, Any]) -> None:
    for k, v in value.items():
        if isinstance(v, Mapping) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = copy.deepcopy(v)


def apply_overrides(
    base: Mapping[str, Any], overrides: Mapping[str, Any]
) -> tuple[dict[str, Any], list[tuple[str, ...]]]:
    """The training data with overrides applied, and the paths the overrides touched."""
    data: dict[str, Any] = copy.deepcopy(dict(base))
    touched: list[tuple[str, ...]] = []
    items = [(normalise_key(k), v) for k, v in overrides.items()]
    items.sort(key=lambda kv: 0 if kv[0][0] in RESETS and kv[0][1:] in ((), (RESETS[kv[0][0]],)) else 1)
    for path, value in items:
        touched.append(path)
        if isinstance(value, BaseModel):
            value = value.model_dump(exclude_unset=True)
        section = path[0]
        if section in RESETS and path[1:] in ((), (RESETS[section],)):
            field = RESETS[section]
            if len(path) == 2 or isinstance(value, str):
                value = {field: value}
            if not isinstance(value, Mapping):
                data[section] = copy.deepcopy(value)  # not a name or a mapping: validation says so
                continue
            existing = data.get(section)
            current: dict[str, Any] = existing if isinstance(existing, dict) else {}
            new = value.get(field)
            if new is not None and new != current.get(field, DEFAULT_NAMES[section]):
                current = {}  # another optimizer / schedule: the old settings would not apply
            _merge(current, value)
            data[section] = current
            continue
        node: dict[str, Any] = data
        for i, part in enumerate(path[:-1]):
            child = node.get(part)
            if not isinstance(child, dict):
                if child is None:
                    child = {}
                elif i == 0 and (expanded := _expanded(part, child)) is not None:
                    child = expanded
                else:
                    raise SpecError(
                        Problem(
                            f"{'.'.join(path[: i + 1])} is a value, not a section: cannot set {'.'.join(path)}",
                            file=ORIGIN,
                            path=("training", *path),
                        )
                    )
                node[part] = child
            node = child
        last = path[-1]
        if isinstance(value, Mapping) and isinstance(node.get(last), dict):
            _merge(node[last], value)
        else:
            node[last] = copy.deepcopy(value)
    return data, touched


def base_training(spec: BaseModel) -> dict[str, Any]:
    training = getattr(spec, "training", None)
    return training.model_dump(exclude_unset=True) if training is not None else {}


def resolve_training(spec: BaseModel, overrides: Mapping[str, Any] | None = None, *, origin: str = ORIGIN) -> Training:
    """The spec's training recipe with overrides applied and validated; errors name the file or the override."""
    data, touched = apply_overrides(base_training(spec), overrides or {})
    try:
        return Training.model_validate(data)
    except ValidationError as exc:
        source = getattr(spec, "_source", None) or Source(data=None, file="<spec>")
        error = translate(exc, source, data, prefix=("training",))
    problems = []
    for p in error.problems:
        sub = tuple(p.path[1:])
        if any(sub[: len(t)] == t or t[: len(sub)] == sub for t in touched):
            p = Problem(p.message, file=origin, path=p.path, hint=p.hint)
        problems.append(p)
    raise SpecError(problems)


def resolved_spec_data(
    spec: BaseModel, training: Training, variables: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The spec as data, as written (variables and all), with the resolved training section."""
    source = getattr(spec, "_source", None)
    if source is not None and isinstance(source.data, dict):
        data = copy.deepcopy(source.data)
    else:
        data = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    if variables:
        data.setdefault("variables", {})
        data["variables"].update(variables)
    data["training"] = training.model_dump(mode="json", exclude_none=True)
    for key in SECTIONS:  # the search space is not part of one network's recipe (`archspec search`)
        data.pop(key, None)
    return data


def spec_yaml(spec: BaseModel, training: Training, variables: Mapping[str, Any] | None = None, header: str = "") -> str:
    text = yaml.safe_dump(
        resolved_spec_data(spec, training, variables), sort_keys=False, default_flow_style=None, width=120
    )
    return (header + "\n" if header else "") + text
