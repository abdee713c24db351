"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, and checkpoints (c2sp.org/tlog-checkpoint).

Pure apart from the key file helpers at the end. A note is UTF-8 text ending in a newline, a blank line,
then one or more signature lines ``— <key name> <base64(key id || signature)>``. Verifiers ignore
signatures by keys they do not know, so witnesses' cosignatures can be added later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG_ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space
MAX_SIGNATURES = 100


_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class NoteError(ValueError):
    """A note, key or checkpoint is malformed or its signature does not verify."""


def key_id(name: str, alg: int, public_key: bytes) -> bytes:
    """The 4-byte key id: the first bytes of SHA-256(name || 0x0A || alg || public key)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name) or not name.isprintable():
        raise NoteError(f"bad key name {name!r}: no spaces, '+' or control characters")


@dataclass(frozen=True)
class Verifier:
    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        """Parse ``<name>+<hex key id>+<base64(0x01 || public key)>``."""
        try:
            name, hex_id, b64 = vkey.strip().split("+", 2)  # base64 may itself contain "+"
            raw = base64.b64decode(b64, validate=True)
            kid = bytes.fromhex(hex_id)
        except (ValueError, binascii.Error) as exc:
            raise NoteError("a verifier key is <name>+<8 hex digits>+<base64 key>") from exc
        _check_name(name)
        if len(hex_id) != 8 or len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("only Ed25519 verifier keys (type 0x01, 32 bytes) are supported")
        if key_id(name, ALG_ED25519, raw[1:]) != kid:
            raise NoteError("the verifier key's id does not match its name and key")
        return cls(name, kid, Ed25519PublicKey.from_public_bytes(raw[1:]))

    def encode(self) -> str:
        raw = self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(bytes([ALG_ED25519]) + raw).decode()}"


@dataclass(frozen=True)
class Signer:
    name: str
    private_key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def verifier(self) -> Verifier:
        public = self.private_key.public_key()
        raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return Verifier(self.name, key_id(self.name, ALG_ED25519, raw), public)

    def sign_line(self, text: str) -> str:
        signature = self.private_key.sign(text.encode())
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(self.verifier.key_id + signature).decode()}\n"


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end in a newline")
    if any((c < " " and c != "\n") or c == "\x7f" for c in text):
        raise NoteError("note text must not hold control characters other than newline")
    if "\n\n" in text or text.startswith("\n"):
        raise NoteError("note text must not hold blank lines")


def sign(text: str, *signers: Signer) -> str:
    """A signed note: ``text``, a blank line, one signature line per signer."""
    _check_text(text)
    return text + "\n" + "".join(s.sign_line(text) for s in signers)


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes
    signature: bytes


def parse(note: str | bytes) -> tuple[str, list[Signature]]:
    """Split a note into its text and its signature lines (nothing is verified here)."""
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError("a note is UTF-8 text") from exc
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise NoteError("a note is text, a blank line, then signature lines")
    text, sig_block = note[:split + 1], note[split + 2:]
    _check_text(text)
    signatures: list[Signature] = []
    for line in sig_block.splitlines():
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError("a signature line starts with an em dash and a space")
        try:
            name, b64 = line[len(SIGNATURE_PREFIX):].split(" ")
            raw = base64.b64decode(b64, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise NoteError("a signature line is '— <name> <base64>'") from exc
        _check_name(name)
        if len(raw) < 5:
            raise NoteError("a signature is a 4-byte key id and the signature bytes")
        signatures.append(Signature(name, raw[:4], raw[4:]))
    if not signatures:
        raise NoteError("a note has at least one signature")
    if len(signatures) > MAX_SIGNATURES:
        raise NoteError(f"a note may have at most {MAX_SIGNATURES} signatures")
    return text, signatures


def open_note(note: str | bytes, verifiers: list[Verifier]) -> str:
    """The note's text, if at least one known verifier's signature on it is valid; unknown ones are ignored.

    A signature by a known key that does not verify fails the whole note, as the spec requires.
    """
    text, signatures = parse(note)
    known = {(v.name, v.key_id): v for v in verifiers}
    verified = 0
    for sig in signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            continue
        try:
            verifier.public_key.verify(sig.signature, text.encode())
        except InvalidSignature as exc:
            raise NoteError(f"the signature by {sig.name} does not verify") from exc
        verified += 1
    if not verified:
        raise NoteError("the note carries no signature by a known key")
    return text


# --- checkpoints ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        """``<origin>\\n<size>\\n<base64 root>\\n`` and any extension lines (c2sp.org/tlog-checkpoint)."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse_body(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("a checkpoint body has an origin, a size and a root hash line")
        origin, size, root = lines[0], lines[1], lines[2]
        if not origin:
            raise NoteError("a checkpoint needs an origin")
        if not _DECIMAL.fullmatch(size):
            raise NoteError("a checkpoint size is a decimal with no leading zeros")
        try:
            root_bytes = base64.b64decode(root, validate=True)
        except binascii.Error as exc:
            raise NoteError("a checkpoint root hash is base64") from exc
        if len(root_bytes) != 32:
            raise NoteError("a checkpoint root hash is 32 bytes")
        return cls(origin, int(size), root_bytes, tuple(lines[3:-1]))


def open_checkpoint(note: str | bytes, verifier: Verifier, *, origin: str | None = None) -> Checkpoint:
    """Verify a signed checkpoint and return it; the origin must match when given."""
    checkpoint = Checkpoint.parse_body(open_note(note, [verifier]))
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(f"checkpoint origin {checkpoint.origin!r} is not {origin!r}")
    return checkpoint


# --- the log's key on disk -----------------------------------------------------------------------


def load_or_create_signer(path: Path, name: str) -> Signer:
    """The log's Ed25519 key from ``path`` (32-byte seed, mode 0600), created on first use."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        seed = path.read_bytes()
        if len(seed) != 32:
            raise NoteError(f"{path} does not hold a 32-byte Ed25519 seed") from None
        return Signer(name, Ed25519PrivateKey.from_private_bytes(seed))
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes_raw()
    with os.fdopen(fd, "wb") as handle:
        handle.write(seed)
        handle.flush()
        os.fsync(handle.fileno())
    return Signer(name, key)
