"""Extreme integers for hostile input: the values past 64 bits that a schema never forbade.

An integer the OpenAPI document leaves without a maximum may be 2**64 as far as the document is
concerned, and the service must answer it with a 4xx at worst; too often it reaches SQLite, a
driver or `struct.pack` and comes back a 500. Hypothesis draws such numbers only now and then
(a few in a hundred), too rarely for a fault window of seconds. `extreme_document` rewrites a
copy of the document so that each integer unbounded above takes only values above 2**63 - 1 (and
one unbounded below only values below -2**63), and makes a parameter holding one required.
Schemathesis' positive cases from that copy are valid for the original document: they are the
"huge numbers" generation mode, sent beside the positive and negative ones.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

HUGE = 2**63  # one past the largest signed 64-bit integer
METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
LOCATIONS = frozenset({"query", "path", "header", "cookie"})


def extreme_document(document: dict[str, Any]) -> tuple[dict[str, Any], set[tuple[str, str]]]:
    """A copy of `document` with its unbounded integers pushed past 64 bits, and the
    operations, as (METHOD, path), that take such an integer anywhere in their input."""
    extreme = copy.deepcopy(document)
    changed: set[int] = set()  # ids of the schema and parameter objects rewritten
    _push(extreme, changed)
    operations = set()
    for path, item in (extreme.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        shared = item.get("parameters", [])
        for method, operation in item.items():
            if method not in METHODS or not isinstance(operation, dict):
                continue
            inputs = [shared, operation.get("parameters", []), operation.get("requestBody", {})]
            if any(id(node) in changed for node in _reach(inputs, extreme)):
                operations.add((method.upper(), path))
    return extreme, operations


def _push(node: Any, changed: set[int]) -> bool:
    """Rewrite unbounded integers below `node` in place; True if anything below changed."""
    if isinstance(node, list):
        return any([_push(item, changed) for item in node])
    if not isinstance(node, dict):
        return False
    below = any([_push(value, changed) for value in node.values()])
    here = _is_free_integer(node) and _make_extreme(node)
    if node.get("in") in LOCATIONS and isinstance(node.get("schema"), dict) and below:
        node["required"] = True  # an optional parameter would be left out half the time
        here = True
    if here or below:
        changed.add(id(node))
    return here or below


def _is_free_integer(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    integer = kind == "integer" or (isinstance(kind, list) and "integer" in kind)
    return integer and "enum" not in schema and "const" not in schema


def _make_extreme(schema: dict[str, Any]) -> bool:
    for name in ("default", "example", "examples"):  # in range no more
        schema.pop(name, None)
    if "maximum" not in schema and "exclusiveMaximum" not in schema:
        schema.pop("exclusiveMinimum", None)
        schema["minimum"] = HUGE
        return True
    if "minimum" not in schema and "exclusiveMinimum" not in schema:
        schema.pop("exclusiveMaximum", None)
        schema["maximum"] = -HUGE - 1
        return True
    return False  # bounded both ways: the ordinary modes try its bounds


def _reach(node: Any, document: dict[str, Any]) -> Iterator[Any]:
    """Every object reachable from `node`, following local `$ref`s (each once)."""
    seen: set[int] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
            ref = item.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/"):
                target = _pointer(document, ref)
                if target is not None:
                    stack.append(target)


def _pointer(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node
