"""Recomputing a tally from the ledger alone, through the real app over HTTP (httpx via the test client)."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from aicommons import clock
from aicommons.database import unit_of_work
from aicommons.governance import agenda, council, retally, rules
from aicommons.governance.models import Motion
from aicommons.governance.rules import Choice, MotionKind
from aicommons.ledger import sequencer
from aicommons.ledger import service as ledger
from tests.served import CLI, demo_facility, serving
from tests.service.test_council_service import (  # noqa: F401
    T0,
    council_setup,
    finish,
    open_motion,
    principal,
    vote,
)


@pytest.fixture
def settings(tmp_path, database_url):
    from aicommons.config import Settings

    return Settings(data_dir=tmp_path / "data", database_url=database_url, ledger_sequencer=False,
                    ledger_checkpoint_interval_seconds=0)


def _decided_motion(factory, settings, council_setup):  # noqa: F811
    operator, d = council_setup
    motion_id = open_motion(factory, operator)
    vote(factory, d["DE"], motion_id, Choice.NO)
    vote(factory, d["DE"], motion_id, Choice.YES)  # replaces DE's first ballot
    vote(factory, d["FR"], motion_id, Choice.YES)
    vote(factory, d["FI"], motion_id, Choice.NO, explanation="Too soon.")
    finish(factory, operator, motion_id)
    sequencer.integrate_pending(factory, settings, sequencer.signer_for(settings))
    return motion_id


def _key(settings):
    return sequencer.signer_for(settings).verifier.encode()


def test_retally_from_the_ledger_matches_the_published_result(client, factory, settings, council_setup):  # noqa: F811
    motion_id = _decided_motion(factory, settings, council_setup)
    result = retally.retally("http://testserver", _key(settings), motion_id, client=client)
    assert result.matches, result.mismatches
    assert result.recomputed["outcome"] == result.published_outcome == "passed"
    assert result.recomputed["ballots"] == {"DE": "yes", "FR": "yes", "FI": "no"}
    assert result.entries_verified == 2 + 4 + 3 and result.text_matches is True


def test_retally_detects_a_falsified_published_tally(client, factory, settings, council_setup):  # noqa: F811
    operator, d = council_setup
    motion_id = open_motion(factory, operator)
    vote(factory, d["FI"], motion_id, Choice.NO)
    with unit_of_work(factory) as s:
        # A facility that lies: it records a tally counting a YES from FI, which voted NO.
        motion = s.get(Motion, motion_id)
        forged = council.compute_tally(motion, {})
        forged = rules.tally(forged.rule, forged.eligible, {"FI": Choice.YES})
        ledger.record(s, kind="governance.motion.tallied", subject=agenda.motion_urn(motion_id), actor=None,
                      data={"constitution_version": 1, **forged.to_dict()})
    sequencer.integrate_pending(factory, settings, sequencer.signer_for(settings))
    result = retally.retally("http://testserver", _key(settings), motion_id, client=client)
    assert not result.matches
    assert any(m.startswith("ballots:") for m in result.mismatches)


def test_retally_notices_a_text_changed_after_the_vote(client, factory, settings, council_setup):  # noqa: F811
    motion_id = _decided_motion(factory, settings, council_setup)
    with unit_of_work(factory) as s:
        s.execute(update(Motion).where(Motion.id == motion_id).values(text="Something nobody voted on"))
    result = retally.retally("http://testserver", _key(settings), motion_id, client=client)
    assert result.text_matches is False and not result.matches


def test_retally_refuses_a_wrong_key(client, factory, settings, council_setup):  # noqa: F811
    motion_id = _decided_motion(factory, settings, council_setup)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from aicommons.ledger import notes
    other = notes.Signer(settings.effective_ledger_origin, Ed25519PrivateKey.generate()).verifier.encode()
    with pytest.raises(retally.RetallyFailed, match="does not verify"):
        retally.retally("http://testserver", other, motion_id, client=client)


def test_the_cli_retallies_a_demo_motion_on_a_running_server(tmp_path):
    with serving(demo_facility(tmp_path / "var")) as served:
        args = ["--url", served.url, "--key", served.key]
        runs = {m: subprocess.run([CLI, "governance", "retally", str(m), *args, "--json"],
                                  capture_output=True, text=True, timeout=60) for m in (1, 2, 3)}
        open_one = subprocess.run([CLI, "governance", "retally", "4", *args], capture_output=True, text=True,
                                  timeout=60)
    outcomes = {}
    for motion, run in runs.items():
        assert run.returncode == 0, run.stderr
        report = json.loads(run.stdout)
        assert report["matches"] is True
        outcomes[motion] = report["recomputed_outcome"]
    assert outcomes == {1: "passed", 2: "failed", 3: "passed"}
    assert open_one.returncode == 1 and "not yet" in open_one.stdout


def test_retally_fetches_attachments_with_any_name(client, factory, settings, council_setup):  # noqa: F811
    operator, d = council_setup
    op = principal(operator)
    with clock.frozen_at(T0), unit_of_work(factory) as s:
        motion_id = agenda.draft_motion(s, actor=op, kind=MotionKind.POLICY, title="t", text="x").id
        agenda.add_attachment(s, motion_id=motion_id, filename="slate #3?.csv", media_type="text/csv",
                              content=b"a,b\n")
        council.give_notice(s, actor=op, motion_id=motion_id)
    with clock.frozen_at(T0 + timedelta(days=14)), unit_of_work(factory) as s:
        council.open_voting(s, actor=op, motion_id=motion_id)
    for code in d:
        vote(factory, d[code], motion_id, Choice.YES)
    finish(factory, operator, motion_id, at=T0 + timedelta(days=16))
    sequencer.integrate_pending(factory, settings, sequencer.signer_for(settings))
    result = retally.retally("http://testserver", _key(settings), motion_id, client=client)
    assert result.attachments_match == {"slate #3?.csv": True} and result.matches


class _HidingSearch:
    """A facility's HTTP answers with one ballot left out of the ledger search (everything else honest)."""

    def __init__(self, client, hidden_index):
        self.client, self.hidden = client, hidden_index

    def get(self, url, params=None, **kw):
        response = self.client.get(url, params=params, **kw)
        if url.endswith("/api/v1/ledger/entries") and params and params.get("subject"):
            page = response.json()
            page["items"] = [item for item in page["items"] if item["index"] != self.hidden]
            return httpx.Response(200, json=page, request=response.request)
        return response


def test_retally_finds_a_ballot_hidden_from_the_search(client, factory, settings, council_setup):  # noqa: F811
    operator, d = council_setup
    motion_id = open_motion(factory, operator)
    vote(factory, d["DE"], motion_id, Choice.NO)
    vote(factory, d["DE"], motion_id, Choice.YES)  # DE changes its mind; a dishonest count ignores that
    vote(factory, d["FR"], motion_id, Choice.NO)
    with unit_of_work(factory) as s:
        motion = s.get(Motion, motion_id)
        forged = council.compute_tally(motion, {})
        forged = rules.tally(forged.rule, forged.eligible, {"DE": Choice.NO, "FR": Choice.NO})
        ledger.record(s, kind="governance.motion.tallied", subject=council.motion_urn(motion_id), actor=None,
                      data={"constitution_version": 1, **forged.to_dict()})
    sequencer.integrate_pending(factory, settings, sequencer.signer_for(settings))
    entries = client.get("/api/v1/ledger/entries", params={"subject": f"urn:aicommons:motion:{motion_id}",
                                                            "kind": "governance.ballot.cast"}).json()["items"]
    hidden = entries[1]["index"]  # DE's second ballot
    result = retally.retally("http://testserver", _key(settings), motion_id, client=_HidingSearch(client, hidden))
    assert result.recomputed["ballots"]["DE"] == "yes", "the tiles show the ballot the search hid"
    assert not result.matches and any(m.startswith("ballots:") for m in result.mismatches)
