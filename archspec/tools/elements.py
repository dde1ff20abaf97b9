"""Figures as element trees: one description that becomes HTML text for a report file and DOM nodes on a live page.

A node is a string (text) or a list ``[tag, {attribute: value}, *children]`` (the JSON form of an element).
``inspect`` writes its report with ``to_html``; ``archspec serve`` sends the same trees as JSON and its page
builds them with ``createElement``, ``setAttribute`` and text nodes (``assets/serve.js``, ``build``), so no
text from a spec, a run or an image's name is ever parsed as markup there. Escaping is done here, once.
"""

from __future__ import annotations

import html
from typing import Any

Node = str | list[Any]

VOID = frozenset({"img", "br"})
"""Elements without an end tag."""


def h(tag: str, attrs: dict[str, Any] | None = None, *children: Node) -> list[Any]:
    """An element: `attrs` values are turned into text (None drops the attribute)."""
    return [tag, {k: str(v) for k, v in (attrs or {}).items() if v is not None}, *children]


def to_html(node: Node | list[Node]) -> str:
    """HTML text for a node, or for a list of nodes (a fragment); text and attribute values escaped."""
    if isinstance(node, str):
        return html.escape(node, quote=False)
    if node and isinstance(node[0], str) and len(node) >= 2 and isinstance(node[1], dict):
        tag: str = node[0]
        attrs: dict[str, str] = node[1]
        children = node[2:]
        opened = "<" + tag + "".join(f' {k}="{html.escape(v, quote=True)}"' for k, v in attrs.items()) + ">"
        return opened if tag in VOID else opened + "".join(to_html(c) for c in children) + f"</{tag}>"
    return "\n".join(to_html(n) for n in node)
