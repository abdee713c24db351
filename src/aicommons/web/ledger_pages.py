"""The public Ledger page: the checkpoint, recent entries, search, each entry with its proof."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from sqlalchemy import func, select

from aicommons.deps import DB, MaybePrincipal
from aicommons.ledger import reading
from aicommons.ledger.kinds import KINDS
from aicommons.ledger.models import LedgerEntry
from aicommons.ledger.store import latest_checkpoint
from aicommons.web.render import render

router = APIRouter(include_in_schema=False)
PAGE = 25


@router.get("/ledger")
def ledger_page(request: Request, db: DB, principal: MaybePrincipal,
                kind: str | None = Query(None, max_length=100), subject: str | None = Query(None, max_length=200),
                cursor: str | None = Query(None, max_length=200)):
    latest = latest_checkpoint(db)
    counts = db.execute(select(LedgerEntry.kind, func.count()).where(LedgerEntry.tree_index.is_not(None))
                        .group_by(LedgerEntry.kind).order_by(LedgerEntry.kind)).all()
    queued = db.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.tree_index.is_(None)))
    page = reading.search(db, kind=kind or None, subject=subject or None, cursor=cursor, limit=PAGE,
                          newest_first=True)
    next_url = None
    if page.next_cursor:
        query = {k: v for k, v in {"kind": kind, "subject": subject}.items() if v}
        next_url = f"/ledger?{urlencode({**query, 'cursor': page.next_cursor})}"
    base_url = str(request.base_url).rstrip("/")
    return render(request, "ledger.html", {
        "checkpoint": latest, "size": reading.tree_size(db), "queued": queued, "counts": counts,
        "entries": [(e, json.loads(e.body)) for e in page.items], "filters": {"kind": kind, "subject": subject},
        "kinds": sorted(KINDS), "next_url": next_url, "base_url": base_url,
        "vkey": request.app.state.ledger_signer.verifier.encode()}, principal=principal)


@router.get("/ledger/entry/{index}")
def ledger_entry_page(request: Request, db: DB, principal: MaybePrincipal, index: int):
    entry = reading.entry_at(db, index)
    latest = latest_checkpoint(db)
    proof, size = [], None
    if latest is not None and index < latest.size:
        size = latest.size
        proof = [reading.b64(h) for h in reading.inclusion_proof(db, index=index, size=size,
                                                                 cache=request.app.state.tile_cache)]
    return render(request, "ledger_entry.html", {
        "entry": entry, "body": bytes(entry.body).decode(), "parsed": json.loads(entry.body),
        "leaf_hash": reading.b64(entry.leaf_hash), "proof": proof, "size": size,
        "kind_doc": KINDS.get(entry.kind), "base_url": str(request.base_url).rstrip("/"),
        "vkey": request.app.state.ledger_signer.verifier.encode()}, principal=principal)
