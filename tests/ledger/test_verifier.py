"""The outsider's verifier and offline proofs, against the real app, and the public Ledger page."""

from __future__ import annotations

import base64
import json
import subprocess

import pytest
from sqlalchemy import select, update

from aicommons.database import unit_of_work
from aicommons.identity.models import InstitutionKind
from aicommons.identity.service import register_institution
from aicommons.ledger import sequencer, verify
from aicommons.ledger.models import LedgerTile
from tests.served import CLI, demo_facility, serving


@pytest.fixture
def settings(tmp_path, database_url):
    from aicommons.config import Settings

    # The test drives integration itself, so the server's background sequencer is off.
    return Settings(data_dir=tmp_path / "data", database_url=database_url, ledger_sequencer=False,
                    ledger_checkpoint_interval_seconds=0)


def _grow(factory, settings, n: int, start: int = 0) -> None:
    with unit_of_work(factory) as s:
        for i in range(start, start + n):
            register_institution(s, actor=None, name=f"Institute {i}", country="FI", kind=InstitutionKind.SME)
    sequencer.integrate_pending(factory, settings, sequencer.signer_for(settings))


def _vkey(settings) -> str:
    return sequencer.signer_for(settings).verifier.encode()


def test_verify_checks_signature_tiles_entries_and_consistency(client, factory, settings, tmp_path):
    _grow(factory, settings, 300)  # crosses a tile boundary: one full level-0 tile and a partial one
    state = tmp_path / "seen.json"
    report = verify.verify_log("http://testserver", _vkey(settings), state_file=state, client=client)
    assert report.size == 300 and report.previous_size is None and 299 in report.entries_checked
    assert report.tiles_fetched >= 3
    assert json.loads(state.read_text())["size"] == 300
    _grow(factory, settings, 20, start=300)
    report = verify.verify_log("http://testserver", _vkey(settings), state_file=state, client=client)
    assert (report.previous_size, report.size) == (300, 320)


def test_verify_rejects_a_wrong_key(client, factory, settings):
    _grow(factory, settings, 3)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from aicommons.ledger.notes import Signer

    impostor = Signer(settings.effective_ledger_origin, Ed25519PrivateKey.generate()).verifier.encode()
    with pytest.raises(verify.VerificationFailed, match="signature"):
        verify.verify_log("http://testserver", impostor, client=client)


def test_verify_detects_a_rewritten_history(client, factory, settings, tmp_path):
    _grow(factory, settings, 10)
    state = tmp_path / "seen.json"
    verify.verify_log("http://testserver", _vkey(settings), state_file=state, client=client)
    forged = json.loads(state.read_text())
    forged["root"] = base64.b64encode(b"\x01" * 32).decode()  # what a forked log would have shown us
    state.write_text(json.dumps(forged))
    _grow(factory, settings, 5, start=10)
    with pytest.raises(verify.VerificationFailed, match="not consistent"):
        verify.verify_log("http://testserver", _vkey(settings), state_file=state, client=client)


def test_verify_detects_a_tampered_tile(client, factory, settings):
    _grow(factory, settings, 12)
    with unit_of_work(factory) as s:
        data = bytearray(s.scalar(select(LedgerTile.hashes).where(LedgerTile.level == 0, LedgerTile.idx == 0)))
        data[5] ^= 0xFF
        s.execute(update(LedgerTile).where(LedgerTile.level == 0, LedgerTile.idx == 0).values(hashes=bytes(data)))
    with pytest.raises(verify.VerificationFailed, match="root"):
        verify.verify_log("http://testserver", _vkey(settings), client=client)


def test_offline_proof_bundle_round_trip_and_tampering(client, factory, settings):
    _grow(factory, settings, 7)
    text = verify.fetch_proof("http://testserver", 4, client=client)
    assert text.startswith("c2sp.org/tlog-proof@v1\nextra ") and "\nindex 4\n" in text
    checked = verify.check_proof(text, _vkey(settings))
    assert checked.index == 4 and checked.size == 7 and json.loads(checked.entry)["subject"].startswith("urn:")
    for tampered in (text.replace("index 4", "index 5"),
                     text.replace("extra ", "extra " + base64.b64encode(b"x").decode()[:-1], 1),
                     text.replace("c2sp.org/tlog-proof@v1", "something else")):
        with pytest.raises(verify.VerificationFailed):
            verify.check_proof(tampered, _vkey(settings))
    with pytest.raises(verify.VerificationFailed):
        verify.fetch_proof("http://testserver", 7, client=client)


def test_ledger_pages_show_checkpoint_entries_and_proofs(client, factory, settings):
    _grow(factory, settings, 5)
    page = client.get("/ledger")
    assert page.status_code == 200 and "5 entries" in page.text and "aicommons ledger verify" in page.text
    assert _vkey(settings) in page.text
    assert "identity.institution.registered" in client.get("/ledger?kind=identity.institution.registered").text
    entry = client.get("/ledger/entry/2")
    assert entry.status_code == 200 and "Inclusion proof" in entry.text and "urn:aicommons:institution:3" in entry.text
    missing = client.get("/ledger/entry/99")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]


def test_the_cli_verifies_a_running_server(tmp_path):
    """`aicommons ledger verify`, `proof` and `check-proof` against a real server over HTTP."""
    facility = demo_facility(tmp_path / "var")
    key = facility.key
    with serving(facility) as served:
        url = served.url
        state = tmp_path / "seen.json"
        ok = subprocess.run([CLI, "ledger", "verify", "--url", url, "--key", key, "--state", str(state), "--json"],
                            capture_output=True, text=True, timeout=60)
        assert ok.returncode == 0, ok.stderr
        assert json.loads(ok.stdout)["ok"] is True and state.exists()
        bad_key = key.rsplit("+", 1)[0] + "+" + base64.b64encode(b"\x01" + b"\x00" * 32).decode()
        bad = subprocess.run([CLI, "ledger", "verify", "--url", url, "--key", bad_key], capture_output=True,
                             text=True, timeout=60)
        assert bad.returncode != 0
        proof = tmp_path / "3.tlog-proof"
        subprocess.run([CLI, "ledger", "proof", "3", "--url", url, "--out", str(proof)], check=True,
                       capture_output=True, timeout=60)
    checked = subprocess.run([CLI, "ledger", "check-proof", str(proof), "--key", key], capture_output=True,
                             text=True, timeout=60)
    assert checked.returncode == 0 and "entry 3" in checked.stdout


def test_verify_checks_the_origin(client, factory, settings):
    _grow(factory, settings, 2)
    with pytest.raises(verify.VerificationFailed, match="origin"):
        verify.verify_log("http://testserver", _vkey(settings), client=client, origin="other.example/ledger")
