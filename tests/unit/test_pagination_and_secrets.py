"""Cursors round-trip and reject forgeries; tokens and CSRF tokens behave as the security model needs."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aicommons.errors import Invalid
from aicommons.identity import secrets
from aicommons.pagination import decode_cursor, encode_cursor


@given(st.one_of(st.integers(min_value=0, max_value=2**53), st.text(max_size=50)))
def test_cursor_round_trips(value):
    assert decode_cursor(encode_cursor(value), type(value)) == value


@given(st.text(max_size=40))
def test_garbage_cursor_is_a_422_naming_the_cursor(text):
    try:
        decode_cursor(text, int)
    except Invalid as exc:
        assert exc.errors[0].loc == ("query", "cursor")


def test_cursor_of_the_wrong_type_is_refused():
    with pytest.raises(Invalid):
        decode_cursor(encode_cursor("FI"), int)
    with pytest.raises(Invalid):
        decode_cursor(encode_cursor(True), int)


def test_tokens_are_random_and_only_their_hash_is_kept():
    a, b = secrets.new_token_secret(), secrets.new_token_secret()
    assert a.plaintext != b.plaintext
    assert a.plaintext.startswith("aic_") and len(a.plaintext) >= 40
    assert a.digest == secrets.sha256_hex(a.plaintext) and a.plaintext not in a.digest
    assert a.plaintext.startswith(a.hint) and len(a.hint) < 12


def test_password_hash_is_argon2id_and_verifies():
    stored = secrets.hash_password("a long enough passphrase")
    assert stored.startswith("$argon2id$")
    assert secrets.verify_password(stored, "a long enough passphrase")
    assert not secrets.verify_password(stored, "a long enough passphrasE")
    assert not secrets.verify_password(None, "a long enough passphrase")


def test_short_passwords_are_refused():
    with pytest.raises(ValueError, match="at least 12"):
        secrets.hash_password("short")


@given(st.text(max_size=30), st.text(max_size=30))
def test_csrf_token_is_bound_to_its_browser(binding, other):
    key = b"k" * 32
    token = secrets.csrf_token(key, binding)
    assert secrets.csrf_matches(key, binding, token)
    assert secrets.csrf_matches(key, other, token) == (other == binding)
    assert not secrets.csrf_matches(b"x" * 32, binding, token)
    assert not secrets.csrf_matches(key, binding, "")
