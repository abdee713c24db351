"""Anyone can recompute a published slate from the published inputs and ranking; tampering is caught."""

from __future__ import annotations

import copy
from datetime import timedelta

import httpx
import pytest

from aicommons.access import recompute
from tests.access.world import World


@pytest.fixture
def published(factory, people, client):
    world = World(factory, people).build()
    call_id = world.draft_call()
    world.approve_call(call_id)
    ids = [world.propose(call_id, c, hours=h) for c, h in (("DE", 5_000), ("FR", 4_000), ("FI", 3_000))]
    closed = world.close(call_id)
    world.pass_checks(*ids, at=closed)
    scores = dict(zip(ids, (5, 4, 3), strict=True))
    world.review_all(call_id, at=closed + timedelta(days=1), scores_for=lambda pid, i: scores[pid])
    world.release(call_id, at=closed + timedelta(days=2))
    world.rank(call_id, at=closed + timedelta(days=20))
    _, motion_id = world.propose_slate(call_id, at=closed + timedelta(days=21))
    world.decide(motion_id, at=closed + timedelta(days=21))
    slate = client.get(f"/api/v1/calls/{call_id}/slate")
    ranking = client.get(f"/api/v1/calls/{call_id}/ranking")
    assert slate.status_code == 200 and ranking.status_code == 200
    return call_id, slate.json(), ranking.json()


def test_the_published_slate_recomputes_exactly(published, client):
    call_id, slate, ranking = published
    outcome = recompute.compare(slate, ranking)
    assert outcome.matches and outcome.recomputed_digest == slate["digest"]
    assert outcome.awarded_hours == 10_000 and outcome.status == "approved"
    served = recompute.recompute("http://testserver", call_id, transport=client._transport)
    assert served.matches


@pytest.mark.parametrize("tamper", ["award", "inputs", "ranking", "digest"])
def test_any_change_to_what_is_published_is_a_mismatch(published, tamper):
    _, slate, ranking = copy.deepcopy(published)
    if tamper == "award":
        slate["result"]["awards"][0]["awarded_hours"] += 1
    elif tamper == "inputs":
        slate["inputs"]["proposals"][0]["requested_hours"] -= 1
    elif tamper == "ranking":
        ranking[1]["score"] = "9/2"
    else:
        slate["digest"] = "0" * 64
    outcome = recompute.compare(slate, ranking)
    assert not outcome.matches and outcome.mismatches


def test_an_unreachable_facility_is_a_clear_failure():
    def refuse(request):
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(recompute.RecomputeFailed, match="cannot reach"):
        recompute.recompute("http://nowhere.invalid", 1, transport=httpx.MockTransport(refuse))


def test_the_cli_recomputes_the_demo_slate_on_a_running_server(tmp_path):
    import json
    import subprocess

    from tests.served import CLI, demo_facility, serving

    with serving(demo_facility(tmp_path / "var")) as served:
        decided = subprocess.run([CLI, "access", "recompute-slate", "1", "--url", served.url, "--json"],
                                 capture_output=True, text=True, timeout=60)
        table = subprocess.run([CLI, "access", "recompute-slate", "1", "--url", served.url],
                               capture_output=True, text=True, timeout=60)
        open_call = subprocess.run([CLI, "access", "recompute-slate", "2", "--url", served.url],
                                   capture_output=True, text=True, timeout=60)
    assert decided.returncode == 0, decided.stderr
    report = json.loads(decided.stdout)
    assert report["matches"] is True and report["status"] == "approved" and report["mismatches"] == []
    assert table.returncode == 0 and "MATCHES" in table.stdout
    assert open_call.returncode == 1 and "no slate" in open_call.stderr
