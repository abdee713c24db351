"""Recording ledger entries. Domains call ``record`` inside their own unit of work."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import rfc8785
from sqlalchemy.orm import Session

from aicommons import clock
from aicommons.ledger.kinds import KINDS
from aicommons.ledger.models import LedgerEntry

SYSTEM_ACTOR = "urn:aicommons:system"


def urn(kind: str, ident: object) -> str:
    """``urn:aicommons:<kind>:<id>``, the way entries name things and actors."""
    return f"urn:aicommons:{kind}:{ident}"


def rfc3339(moment: datetime) -> str:
    """UTC, second precision with microseconds only when present, ``Z`` suffix (RFC 3339)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def leaf_hash(entry_bytes: bytes) -> bytes:
    """RFC 9162 §2.1.1: the hash of a leaf is SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + entry_bytes).digest()


def record(session: Session, *, kind: str, subject: str, actor: str | None, data: dict[str, Any],
           at: datetime | None = None) -> LedgerEntry:
    """Queue a public entry; it commits with the caller's change or not at all."""
    if kind not in KINDS:
        raise ValueError(f"ledger kind {kind!r} is not documented in aicommons.ledger.kinds")
    moment = at or clock.now()
    body = rfc8785.dumps({"kind": kind, "at": rfc3339(moment), "subject": subject,
                          "actor": actor or SYSTEM_ACTOR, "data": data})
    entry = LedgerEntry(kind=kind, subject=subject, body=body, leaf_hash=leaf_hash(body),
                        recorded_at=moment)
    session.add(entry)
    session.flush()
    # The edge tells the client how to find the entry (see deps._unit_of_work).
    session.info.setdefault("ledger_leaves", []).append(entry.leaf_hash)
    return entry
