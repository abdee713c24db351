"""The facility's one source of time: UTC, and replaceable in tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return _now()


@contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    """Make ``now()`` return ``moment`` inside the block (tests only)."""
    global _now
    if moment.tzinfo is None:
        raise ValueError("frozen_at needs an aware datetime")
    previous = _now
    _now = lambda: moment  # noqa: E731
    try:
        yield
    finally:
        _now = previous
