"""Writing spec data as YAML the way people write specs: block style at the top, one line per layer.

Used by `archspec render` (a resolved spec) and `archspec import` (a spec from a Keras model).
"""

from __future__ import annotations

from typing import Any

import yaml

from .read import reads_as_number


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, quoting the text archspec's reader reads as a number where YAML 1.1 does
    not (`1e5`, `5e-1`): a layer named `1e5` was written bare and came back as 100000.0."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    node = dumper.represent_str(value)
    if reads_as_number(value):
        node.style = "'"
    return node


_Dumper.add_representer(str, _text)


def _dump(value: Any, **options: Any) -> str:
    text: str = yaml.dump(value, Dumper=_Dumper, width=10**9, sort_keys=False, **options)
    return text.strip()


def _flow(value: Any) -> str:
    return _dump(value, default_flow_style=True)


def to_yaml(spec: dict[str, Any], header: str = "") -> str:
    """YAML text of spec data, with `header` as a comment block on top."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    for key, value in spec.items():
        if key == "layers":
            lines.append("layers:")
            lines.extend(f"  - {_flow(layer)[1:-1]}" for layer in value)
        elif isinstance(value, (dict, list)):
            lines.append(f"{key}: {_flow(value)}")
        else:
            lines.append(_dump({key: value}))
    return "\n".join(lines) + "\n"
