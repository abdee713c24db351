"""Recompute a call's allocation slate from what the facility publishes, and compare.

Anyone can run it (``aicommons access recompute-slate CALL --url URL``): it fetches the slate's published
inputs and result, checks the inputs against the published ranking (the same proposals, ranks, scores,
requests and fundability), recomputes the result with ``slate.compute_slate`` and compares it field by
field and by digest. Nothing is trusted but the arithmetic, which is ours and open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from aicommons.access import slate


class RecomputeFailed(Exception):
    """The published slate could not be fetched or read."""


@dataclass
class Recomputed:
    call: int
    slate: int
    status: str
    published_digest: str
    recomputed_digest: str
    awarded_hours: int
    pool_hours: int
    mismatches: list[str] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def matches(self) -> bool:
        return not self.mismatches


def _get(client: httpx.Client, path: str) -> Any:
    try:
        response = client.get(path)
    except httpx.HTTPError as exc:
        raise RecomputeFailed(f"cannot reach {client.base_url}{path}: {exc}") from exc
    if response.status_code != 200:
        detail = response.json().get("detail", "") if "json" in response.headers.get("content-type", "") else ""
        raise RecomputeFailed(f"GET {path} answered {response.status_code} {detail}".strip())
    return response.json()


def recompute(url: str, call_id: int, *, transport: httpx.BaseTransport | None = None) -> Recomputed:
    with httpx.Client(base_url=url.rstrip("/"), timeout=30, transport=transport) as client:
        published = _get(client, f"/api/v1/calls/{call_id}/slate")
        ranking = _get(client, f"/api/v1/calls/{call_id}/ranking")
    return compare(published, ranking)


def compare(published: dict[str, Any], ranking: list[dict[str, Any]]) -> Recomputed:
    """Recompute from the published inputs; every difference is listed in words."""
    try:
        inputs = slate.SlateInputs.from_dict(published["inputs"])
    except (slate.SlateError, KeyError, TypeError) as exc:
        raise RecomputeFailed(f"the published inputs cannot be read: {exc}") from exc
    result = slate.compute_slate(inputs).to_dict()
    mismatches = _check_against_ranking(published["inputs"], ranking,
                                        supplementary=bool(published.get("supplementary")))
    claimed = published.get("result", {})
    for key in sorted(set(result) | set(claimed)):
        if result.get(key) != claimed.get(key):
            mismatches.append(f"the published result's '{key}' differs from the recomputed one")
    if published.get("digest") != result["digest"]:
        mismatches.append(f"published digest {published.get('digest')} != recomputed {result['digest']}")
    return Recomputed(call=published["call"], slate=published["id"], status=published["status"],
                      published_digest=str(published.get("digest")), recomputed_digest=result["digest"],
                      awarded_hours=result["total"]["awarded_hours"], pool_hours=result["total"]["pool_hours"],
                      mismatches=mismatches, result=result)


def _check_against_ranking(inputs: dict[str, Any], ranking: list[dict[str, Any]], *,
                           supplementary: bool = False) -> list[str]:
    """The slate must allocate over exactly the published ranking (a supplementary slate, over the part of
    it an upheld appeal returned; the proposals it uses must still match the ranking line for line)."""
    problems = []
    ranked = {line["proposal_id"]: line for line in ranking}
    used = {p["proposal_id"]: p for p in inputs.get("proposals", [])}
    for pid in sorted(set(ranked) - set(used)) if not supplementary else ():
        problems.append(f"proposal {pid} is in the published ranking but not in the slate's inputs")
    for pid in sorted(set(used) - set(ranked)):
        problems.append(f"proposal {pid} is in the slate's inputs but not in the published ranking")
    for pid in sorted(set(used) & set(ranked)):
        line, entry = ranked[pid], used[pid]
        for key, theirs in (("rank", "rank"), ("score", "score"), ("fundable", "fundable"), ("track", "track"),
                            ("requested_hours", "requested_hours"), ("member_state", "country")):
            if entry.get(key) != line.get(theirs):
                problems.append(f"proposal {pid}: the slate's {key} {entry.get(key)!r} differs from the "
                                f"published ranking's {line.get(theirs)!r}")
    return problems
