"""JSON from strangers: strict UTF-8, bounded size and nesting, and one error type.

json.loads on 10,000 nested brackets raises RecursionError (which no handler expected, so a 500
or a dropped websocket), and a legitimately parsed deep structure can still blow the stack later
(schema validation, copying, logging). A JSON escape can also spell a lone surrogate ("\ud800"):
valid JSON, but no text, and the first store or client that encodes it to UTF-8 raises. Every
body and frame from outside goes through `loads`; handlers turn BadJson into a 400."""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32  # no payload we accept nests deeper than ~8; platform updates stay well below


class BadJson(ValueError):
    """The input is not JSON we accept (not UTF-8, malformed, too deep)."""


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    try:
        text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
        value = json.loads(text, parse_constant=_no_constants)
    except UnicodeDecodeError as exc:
        raise BadJson("body is not UTF-8") from exc
    except RecursionError as exc:
        raise BadJson("JSON nested too deeply") from exc
    except ValueError as exc:  # JSONDecodeError, huge integers, NaN/Infinity
        raise BadJson(f"not valid JSON: {exc}") from exc
    if nesting(value) > max_depth:
        raise BadJson(f"JSON nested deeper than {max_depth} levels")
    if not _all_text(value):
        raise BadJson("JSON string with a lone surrogate (not Unicode text)")
    return value


def nesting(value: Any) -> int:
    """How deeply lists and objects nest (0 for a scalar), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        stack.extend((child, level) for child in children)
    return deepest


def _all_text(value: Any) -> bool:
    """Whether every string (keys too) is encodable as UTF-8, without recursion (the nesting
    is bounded by now, but the width is not)."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not _encodable(item):
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
