"""JSON with exact numbers: every non-integer number is a ``Decimal``, read and written digit for digit.

Money travels from Severa's JSON to Procountor's body without passing through a binary float: ``loads`` reads
``12.35`` as ``Decimal("12.35")`` (the standard library's ``parse_float`` hook), and ``dumps`` writes a
``Decimal`` back as the same JSON number (the standard library cannot: it would need ``default`` to return
raw text). Everything else is written exactly as ``json.dumps`` writes it, so a record without decimals gives
the same text, byte for byte (snapshots and their hashes do not change).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any


def loads(text: str | bytes) -> Any:
    """``json.loads`` with every number that has a fraction or an exponent read as a ``Decimal``.

    ``NaN`` and ``Infinity`` are refused (``ValueError``): they are not JSON, and no amount can be either."""
    return json.loads(text, parse_float=Decimal, parse_constant=_not_a_number)


def _not_a_number(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def dumps(
    value: Any,
    *,
    sort_keys: bool = False,
    ensure_ascii: bool = True,
    default: Callable[[Any], Any] | None = None,
) -> str:
    """``json.dumps`` (same separators and escaping) that writes a ``Decimal`` as a JSON number."""
    return "".join(_encode(value, sort_keys, ensure_ascii, default))


def _encode(value: Any, sort_keys: bool, ensure_ascii: bool, default: Callable[[Any], Any] | None) -> Iterator[str]:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        yield str(value)  # a valid JSON number for every finite Decimal (1E+2, -0.50, ...)
    elif isinstance(value, dict):
        items = sorted(value.items()) if sort_keys else value.items()
        yield "{"
        for index, (key, item) in enumerate(items):
            yield (", " if index else "") + json.dumps(_key(key), ensure_ascii=ensure_ascii) + ": "
            yield from _encode(item, sort_keys, ensure_ascii, default)
        yield "}"
    elif isinstance(value, list | tuple):
        yield "["
        for index, item in enumerate(value):
            if index:
                yield ", "
            yield from _encode(item, sort_keys, ensure_ascii, default)
        yield "]"
    elif value is None or isinstance(value, str | int | float):
        yield json.dumps(value, ensure_ascii=ensure_ascii)
    elif default is not None:
        yield from _encode(default(value), sort_keys, ensure_ascii, default)
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _key(key: Any) -> str:
    # As json.dumps: str keys as they are; numbers, booleans and None as their JSON text.
    if isinstance(key, str):
        return key
    if isinstance(key, bool) or key is None:
        return json.dumps(key)
    if isinstance(key, int | float | Decimal):
        return str(key) if isinstance(key, Decimal) else json.dumps(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
