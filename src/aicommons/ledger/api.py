"""The ledger's public HTTP interface: C2SP checkpoint and tiles, entries, proofs. No authentication."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from aicommons.deps import DB
from aicommons.errors import NotFound
from aicommons.ledger import reading, tiles
from aicommons.ledger.kinds import KINDS
from aicommons.pagination import DEFAULT_LIMIT, MAX_LIMIT

router = APIRouter(tags=["ledger"])
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=2"


class EntryOut(BaseModel):
    index: int
    kind: str
    subject: str
    leaf_hash: str = Field(description="base64 SHA-256(0x00 || entry bytes)")
    entry: dict = Field(description="The entry; its exact bytes are at /api/v1/ledger/entries/{index}.")


class EntryPage(BaseModel):
    items: list[EntryOut]
    next_cursor: str | None


class InclusionProofOut(BaseModel):
    index: int
    tree_size: int
    hashes: list[str]


class ConsistencyProofOut(BaseModel):
    old_size: int
    new_size: int
    hashes: list[str]


class LookupOut(BaseModel):
    status: str = Field(description="'integrated' (with a proof against the latest signed checkpoint) or "
                                    "'queued' (not yet covered by a signed checkpoint; ask again shortly)")
    leaf_hash: str
    index: int | None
    tree_size: int
    hashes: list[str]


def entry_out(entry) -> EntryOut:
    import json

    return EntryOut(index=entry.tree_index, kind=entry.kind, subject=entry.subject,
                    leaf_hash=reading.b64(entry.leaf_hash), entry=json.loads(entry.body))


def _cache(request: Request):
    return request.app.state.tile_cache


@router.get("/ledger/checkpoint", response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "The signed checkpoint"}})
def get_checkpoint(db: DB):
    """The latest signed checkpoint (c2sp.org/tlog-checkpoint in a c2sp.org/signed-note)."""
    return Response(reading.checkpoint(db).note, media_type="text/plain; charset=utf-8",
                    headers={"Cache-Control": SHORT})


@router.get("/ledger/tile/{level}/{rest:path}", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}})
def get_tile(request: Request, db: DB, level: str, rest: str):
    """A hash tile or an entry bundle (c2sp.org/tlog-tiles). Full tiles never change."""
    try:
        path = tiles.parse_tile_path(level, rest)
    except ValueError as exc:
        raise NotFound(f"not a tile path: {exc}") from exc
    # The router's pattern lets a trailing newline through; a tile must have exactly one name.
    if request.scope["path"] != f"/ledger/{path.encode()}":
        raise NotFound("not a canonical tile path")
    data = reading.bundle_data(db, path) if path.level is None else reading.tile_data(db, path)
    return Response(data, media_type="application/octet-stream", headers={"Cache-Control": IMMUTABLE})


@router.get("/api/v1/ledger/key", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def get_key(request: Request):
    """The verifier key: ``<name>+<key id>+<base64 key>``, as sumdb/note and c2sp.org/signed-note read it."""
    return Response(request.app.state.ledger_signer.verifier.encode() + "\n", media_type="text/plain")


class KindOut(BaseModel):
    kind: str
    subject: str
    meaning: str
    data_fields: dict[str, str]


@router.get("/api/v1/ledger/kinds", response_model=list[KindOut])
def list_kinds():
    """Every kind of entry the ledger records, with the public ``data`` fields each carries."""
    return [KindOut(kind=k.name, subject=k.subject, meaning=k.meaning, data_fields=k.data_fields)
            for k in KINDS.values()]


@router.get("/api/v1/ledger/entries/{index}", response_class=Response,
            responses={200: {"content": {"application/json": {}}}})
def get_entry(db: DB, index: int):
    """The entry's exact leaf bytes (RFC 8785 canonical JSON)."""
    entry = reading.entry_at(db, index)
    return Response(bytes(entry.body), media_type="application/json", headers={"Cache-Control": IMMUTABLE})


@router.get("/api/v1/ledger/entries", response_model=EntryPage)
def search_entries(db: DB, kind: Annotated[str | None, Query(max_length=100)] = None,
                   subject: Annotated[str | None, Query(max_length=200)] = None,
                   cursor: Annotated[str | None, Query(max_length=200)] = None,
                   limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT):
    """Integrated entries in index order; ``kind`` may be a prefix ending in '.', e.g. ``identity.``."""
    page = reading.search(db, kind=kind, subject=subject, cursor=cursor, limit=limit)
    return EntryPage(items=[entry_out(e) for e in page.items], next_cursor=page.next_cursor)


@router.get("/api/v1/ledger/proofs/inclusion", response_model=InclusionProofOut)
def inclusion(request: Request, db: DB, index: Annotated[int, Query()], tree_size: Annotated[int, Query()]):
    """RFC 9162 §2.1.3.1 audit path for leaf ``index`` in the tree of ``tree_size``."""
    proof = reading.inclusion_proof(db, index=index, size=tree_size, cache=_cache(request))
    return InclusionProofOut(index=index, tree_size=tree_size, hashes=[reading.b64(h) for h in proof])


@router.get("/api/v1/ledger/proofs/consistency", response_model=ConsistencyProofOut)
def consistency(request: Request, db: DB, old_size: Annotated[int, Query()], new_size: Annotated[int, Query()]):
    """RFC 9162 §2.1.4.1 consistency proof between two tree sizes."""
    proof = reading.consistency_proof(db, old_size=old_size, new_size=new_size, cache=_cache(request))
    return ConsistencyProofOut(old_size=old_size, new_size=new_size, hashes=[reading.b64(h) for h in proof])


@router.get("/api/v1/ledger/lookup", response_model=LookupOut)
def lookup(request: Request, db: DB, leaf_hash: Annotated[str, Query(max_length=100)]):
    """Find an entry by leaf hash (as returned in the ``AICommons-Ledger-Leaf`` header of a change)."""
    found = reading.lookup(db, reading.parse_hash(leaf_hash), cache=_cache(request))
    return LookupOut(status="queued" if found.queued else "integrated",
                     leaf_hash=reading.b64(found.entry.leaf_hash),
                     index=None if found.queued else found.entry.tree_index, tree_size=found.size,
                     hashes=[reading.b64(h) for h in found.proof])
