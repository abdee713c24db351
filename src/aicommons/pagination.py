"""Cursor pagination: opaque cursors that name the last item seen, so pages stay stable under inserts."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Generic, TypeVar

from aicommons.errors import invalid_field

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(value: str | int) -> str:
    return base64.urlsafe_b64encode(json.dumps([value]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, kind: type) -> str | int | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        (value,) = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError) as exc:
        raise invalid_field(("query", "cursor"), "not a cursor this server issued") from exc
    if not isinstance(value, kind) or isinstance(value, bool) or (isinstance(value, int) and not 0 <= value < 2**63):
        raise invalid_field(("query", "cursor"), "not a cursor this server issued")
    return value


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None
