"""Writing spec data as YAML the way people write specs: block style at the top, one line per layer.

Used by `archspec render` (a resolved spec) and `archspec import` (a spec from a Keras model).
"""

from __future__ import annotations

from typing import Any

import yaml


def _flow(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10**9, sort_keys=False).strip()


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
            lines.append(yaml.safe_dump({key: value}, width=10**9, sort_keys=False).strip())
    return "\n".join(lines) + "\n"
