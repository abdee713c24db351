"""C2SP signed notes and checkpoints: the spec's published example, tampering, malformed notes, the key file."""

from __future__ import annotations

import base64
import hashlib
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from aicommons.ledger import notes
from aicommons.ledger.notes import Checkpoint, NoteError, Signer, Verifier

# The example from c2sp.org/signed-note (also golang.org/x/mod/sumdb/note).
VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
SKEY_B64 = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
SIG_LINE = ("\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6Ry"
            "yBwJnAM=")
NOTE = TEXT + "\n" + SIG_LINE + "\n"


def peter() -> Signer:
    raw = base64.b64decode(SKEY_B64)
    assert raw[0] == 0x01 and len(raw) == 33
    return Signer("PeterNeumann", Ed25519PrivateKey.from_private_bytes(raw[1:]))


def witness(name: str = "witness.example/w1") -> Signer:
    return Signer(name, Ed25519PrivateKey.generate())


def test_the_published_example_verifies():
    verifier = Verifier.parse(VKEY)
    assert verifier.name == "PeterNeumann" and verifier.key_id == bytes.fromhex("c74f20a3")
    assert verifier.encode() == VKEY
    assert notes.open_note(NOTE, [verifier]) == TEXT
    assert notes.open_note(NOTE.encode(), [verifier]) == TEXT


def test_signing_the_example_with_its_private_key_gives_the_same_bytes():
    signer = peter()
    assert signer.verifier.encode() == VKEY
    assert notes.sign(TEXT, signer) == NOTE
    assert signer.sign_line(TEXT) == SIG_LINE + "\n"


def test_key_id_is_the_spec_hash():
    pub = base64.b64decode(VKEY.split("+")[2])
    assert notes.key_id("PeterNeumann", 1, pub[1:]) == hashlib.sha256(b"PeterNeumann\n" + pub).digest()[:4]


def test_unknown_signatures_are_ignored():
    other = witness()
    cosigned = NOTE + other.sign_line(TEXT)
    assert notes.open_note(cosigned, [Verifier.parse(VKEY)]) == TEXT
    # The witness's line first, or a garbage signature by an unknown key: still ignored.
    first = TEXT + "\n" + other.sign_line(TEXT) + SIG_LINE + "\n"
    assert notes.open_note(first, [Verifier.parse(VKEY)]) == TEXT
    junk = NOTE + "\u2014 someone.else " + base64.b64encode(b"\x01\x02\x03\x04" + b"\x00" * 64).decode() + "\n"
    assert notes.open_note(junk, [Verifier.parse(VKEY)]) == TEXT
    # Both keys known: both must verify, and do.
    assert notes.open_note(cosigned, [Verifier.parse(VKEY), other.verifier]) == TEXT
    # The same name with another key id is another key: ignored, so a note carrying only that fails.
    impostor = Signer("PeterNeumann", Ed25519PrivateKey.generate())
    with pytest.raises(NoteError):
        notes.open_note(notes.sign(TEXT, impostor), [Verifier.parse(VKEY)])
    assert notes.open_note(notes.sign(TEXT, impostor, peter()), [Verifier.parse(VKEY)]) == TEXT


def test_a_bad_signature_by_the_known_key_fails_even_next_to_a_good_one():
    raw = bytearray(base64.b64decode(SIG_LINE.split(" ")[2]))
    raw[10] ^= 1
    bad_line = "\u2014 PeterNeumann " + base64.b64encode(bytes(raw)).decode()
    with pytest.raises(NoteError):
        notes.open_note(TEXT + "\n" + bad_line + "\n", [Verifier.parse(VKEY)])
    with pytest.raises(NoteError):
        notes.open_note(NOTE + bad_line + "\n", [Verifier.parse(VKEY)])
    # A signature by the known key over other text.
    other = peter().sign_line("something else\n")
    with pytest.raises(NoteError):
        notes.open_note(TEXT + "\n" + other, [Verifier.parse(VKEY)])


@pytest.mark.parametrize("tampered", [
    TEXT.replace("cryptography", "Cryptography"),
    TEXT.replace("is.\n", "is!\n"),
    TEXT + "extra line\n",
    TEXT[:-1] + " \n",
    "x" + TEXT,
])
def test_tampered_text_fails(tampered):
    with pytest.raises(NoteError):
        notes.open_note(tampered + "\n" + SIG_LINE + "\n", [Verifier.parse(VKEY)])


@pytest.mark.parametrize("note", [
    TEXT + SIG_LINE + "\n",  # no blank line
    TEXT + "\n",  # no signatures
    TEXT + "\n\n",  # an empty signature block
    TEXT + "\n" + SIG_LINE,  # no final newline
    TEXT + "\n" + SIG_LINE + "\n\n",  # a blank line after the signatures
    TEXT + "\n\n" + SIG_LINE + "\n",  # two blank lines
    "\n" + SIG_LINE + "\n",  # empty text
    TEXT.replace("problem,", "problem,\x07") + "\n" + SIG_LINE + "\n",  # control character
    TEXT.replace("problem,", "problem,\r") + "\n" + SIG_LINE + "\n",  # carriage return
    TEXT.replace("problem,", "problem,\t") + "\n" + SIG_LINE + "\n",  # tab
    TEXT + "\n" + SIG_LINE.replace("x08go", "x08g!") + "\n",  # bad base64
    TEXT + "\n" + SIG_LINE[:-1] + "\n",  # base64 with its padding cut
    TEXT + "\n" + SIG_LINE.replace("\u2014 ", "- ") + "\n",  # not an em dash
    TEXT + "\n" + SIG_LINE.replace("\u2014 ", "\u2014") + "\n",  # no space after the dash
    TEXT + "\n" + SIG_LINE.replace(" x08go", "  x08go") + "\n",  # two spaces
    TEXT + "\n" + "\u2014 PeterNeumann\n",  # no signature
    TEXT + "\n" + "\u2014 PeterNeumann " + base64.b64encode(b"\xc7\x4f\x20\xa3").decode() + "\n",  # id only
    TEXT + "\n" + SIG_LINE.replace("x08go", "x18go") + "\n",  # another key id: nothing by a known key
])
def test_malformed_notes_fail(note):
    with pytest.raises(NoteError):
        notes.open_note(note, [Verifier.parse(VKEY)])


def test_a_note_that_is_not_utf8_fails():
    with pytest.raises(NoteError):
        notes.open_note(b"\xff\xfe" + NOTE.encode(), [Verifier.parse(VKEY)])


def test_signing_refuses_text_a_verifier_would_reject():
    for text in ["no newline", "blank\n\nline\n", "bell\x07\n", "", "\n"]:
        with pytest.raises(NoteError):
            notes.sign(text, peter())


def test_keys_whose_base64_holds_a_plus_round_trip():
    for seed in range(256):
        signer = Signer("example.org/ledger", Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))
        encoded = signer.verifier.encode()
        if "+" in encoded.split("+", 2)[2]:
            break
    else:
        pytest.fail("no key with '+' in its base64 among 256 seeds")
    parsed = Verifier.parse(encoded)
    assert parsed.encode() == encoded and parsed.key_id == signer.verifier.key_id
    assert notes.open_note(notes.sign("hello\n", signer), [parsed]) == "hello\n"


@pytest.mark.parametrize("vkey", [
    "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong key id
    "PeterNeumann2+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # another name
    "PeterNeumann+c74f20a3+AhpcdQcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # another algorithm byte
    "PeterNeumann+c74f20a3+Rpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # key bytes without type
    "PeterNeumann+c74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # short id
    "PeterNeumann+c74f20a3",
    "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "",
])
def test_bad_verifier_keys_fail(vkey):
    with pytest.raises(NoteError):
        Verifier.parse(vkey)


# --- checkpoints ---------------------------------------------------------------------------------

ROOT = hashlib.sha256(b"root").digest()


@pytest.mark.parametrize("checkpoint", [
    Checkpoint("example.org/ledger", 0, hashlib.sha256(b"").digest()),
    Checkpoint("example.org/ledger", 1, ROOT),
    Checkpoint("example.org/ledger", 12345678901234, ROOT),
    Checkpoint("example.org/ledger", 7, ROOT, ("— not a signature in a body", "ext two")),
])
def test_checkpoint_body_round_trip(checkpoint):
    body = checkpoint.body()
    assert body.endswith("\n") and body.split("\n")[1] == str(checkpoint.size)
    assert body.split("\n")[2] == base64.b64encode(checkpoint.root).decode()
    assert Checkpoint.parse_body(body) == checkpoint
    signer = witness("example.org/ledger")
    note = notes.sign(body, signer)
    assert notes.open_checkpoint(note, signer.verifier, origin="example.org/ledger") == checkpoint
    with pytest.raises(NoteError):
        notes.open_checkpoint(note, signer.verifier, origin="example.org/other")
    with pytest.raises(NoteError):
        notes.open_checkpoint(note, witness("example.org/ledger").verifier)


B64_ROOT = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize("body", [
    f"origin\n012\n{B64_ROOT}\n",  # leading zero
    f"origin\n00\n{B64_ROOT}\n",
    f"origin\n-1\n{B64_ROOT}\n",
    f"origin\n+1\n{B64_ROOT}\n",
    f"origin\n 1\n{B64_ROOT}\n",
    f"origin\n1.0\n{B64_ROOT}\n",
    f"origin\n\n{B64_ROOT}\n",
    f"origin\nten\n{B64_ROOT}\n",
    "origin\n1\n" + B64_ROOT.replace("=", "") + "\n",  # unpadded base64
    "origin\n1\n" + B64_ROOT[:-4] + "!!!=\n",  # bad base64
    "origin\n1\n" + base64.b64encode(ROOT[:31]).decode() + "\n",  # 31-byte root
    "origin\n1\n" + base64.b64encode(ROOT + b"\x00").decode() + "\n",  # 33-byte root
    f"\n1\n{B64_ROOT}\n",  # no origin
    f"origin\n1\n{B64_ROOT}",  # no final newline
    "origin\n1\n",  # no root
    "",
])
def test_checkpoint_parse_errors(body):
    with pytest.raises(NoteError):
        Checkpoint.parse_body(body)


@pytest.mark.parametrize("size", ["\u0663", "\u00b2", "\uff11"])  # ARABIC-INDIC 3, SUPERSCRIPT 2, FULLWIDTH 1
def test_checkpoint_size_is_ascii_decimal_only(size):
    """tlog-checkpoint: the size is an ASCII decimal; other Unicode digits are not a size (and not a crash)."""
    with pytest.raises(NoteError):
        Checkpoint.parse_body(f"origin\n{size}\n{B64_ROOT}\n")


# --- the key file --------------------------------------------------------------------------------


def test_key_file_is_private_and_reloads_the_same_key(tmp_path):
    path = tmp_path / "secrets" / "ledger.key"
    first = notes.load_or_create_signer(path, "example.org/ledger")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_bytes()) == 32
    again = notes.load_or_create_signer(path, "example.org/ledger")
    assert again.verifier.encode() == first.verifier.encode()
    assert again.private_key.private_bytes_raw() == first.private_key.private_bytes_raw()
    note = notes.sign("example.org/ledger\n0\n" + base64.b64encode(hashlib.sha256().digest()).decode() + "\n", first)
    assert notes.open_checkpoint(note, again.verifier).size == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_truncated_key_file_is_an_error_not_a_new_key(tmp_path):
    path = tmp_path / "ledger.key"
    path.write_bytes(b"\x00" * 31)
    with pytest.raises(NoteError):
        notes.load_or_create_signer(path, "example.org/ledger")
    assert path.read_bytes() == b"\x00" * 31
