"""tlog.sshagent: the SSH agent protocol codec, by round trips and by hostile bytes."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given
from hypothesis import strategies as st

from tlog import sshagent
from tlog.errors import TlogError
from tlog.sshagent import (
    AgentKeySpecError,
    AgentProtocolError,
    Identity,
    ed25519_blob,
    ed25519_public,
    encode_string,
    fingerprint,
    parse_identities,
    parse_key_spec,
    parse_sign_response,
    sign_request,
    split_frame,
)

identities = st.lists(st.builds(Identity, st.binary(max_size=80), st.text(max_size=20)), max_size=6)


def identities_answer(ids: list[Identity]) -> bytes:
    return struct.pack(">I", len(ids)) + b"".join(
        encode_string(i.blob) + encode_string(i.comment.encode()) for i in ids
    )


def sign_response(sig: bytes, alg: bytes = sshagent.ED25519) -> bytes:
    return encode_string(encode_string(alg) + encode_string(sig))


@given(identities)
def test_identities_round_trip(ids: list[Identity]) -> None:
    assert parse_identities(sshagent.IDENTITIES_ANSWER, identities_answer(ids)) == ids


@given(identities, st.data())
def test_truncated_or_padded_identities_are_refused(
    ids: list[Identity], data: st.DataObject
) -> None:
    good = identities_answer(ids)
    cut = data.draw(st.integers(0, len(good) - 1))
    with pytest.raises(AgentProtocolError, match="identities answer"):
        parse_identities(sshagent.IDENTITIES_ANSWER, good[:cut])
    with pytest.raises(AgentProtocolError, match="trailing bytes"):
        parse_identities(sshagent.IDENTITIES_ANSWER, good + b"\0")


@given(st.binary(max_size=200))
def test_any_bytes_parse_or_raise_a_protocol_error(data: bytes) -> None:
    for parse, kind in (
        (parse_identities, sshagent.IDENTITIES_ANSWER),
        (parse_sign_response, sshagent.SIGN_RESPONSE),
    ):
        with contextlib.suppress(AgentProtocolError):
            parse(kind, data)


@given(st.binary(min_size=64, max_size=64))
def test_sign_response_round_trip(sig: bytes) -> None:
    assert parse_sign_response(sshagent.SIGN_RESPONSE, sign_response(sig)) == sig


@pytest.mark.parametrize(
    ("contents", "error"),
    [
        (sign_response(bytes(63)), "63 bytes, want 64"),
        (sign_response(bytes(64), b"ssh-rsa"), "algorithm b'ssh-rsa'"),
        (sign_response(bytes(64)) + b"x", "trailing bytes"),
        (encode_string(b"\0\0\0\x0bssh-ed25519"), "signature blob: truncated"),
    ],
)
def test_bad_sign_responses_say_what_is_wrong(contents: bytes, error: str) -> None:
    with pytest.raises(AgentProtocolError, match=error):
        parse_sign_response(sshagent.SIGN_RESPONSE, contents)


def test_failure_and_unexpected_types_are_refusals() -> None:
    with pytest.raises(AgentProtocolError, match="refused the sign request"):
        parse_sign_response(sshagent.FAILURE, b"")
    with pytest.raises(AgentProtocolError, match="message type 12, want 14"):
        parse_sign_response(sshagent.IDENTITIES_ANSWER, b"")


@given(st.integers(0, 255), st.binary(max_size=300), st.binary(max_size=10))
def test_frames_split_back_whole_and_wait_when_short(kind: int, body: bytes, rest: bytes) -> None:
    framed = sshagent.frame(kind, body)
    assert split_frame(framed + rest) == (kind, body, rest)
    assert split_frame(framed[:-1]) is None


@pytest.mark.parametrize("length", [0, sshagent.MAX_MESSAGE + 1])
def test_frame_lengths_out_of_range_are_refused(length: int) -> None:
    with pytest.raises(AgentProtocolError, match=r"outside 1\.\."):
        split_frame(struct.pack(">I", length) + b"x")


@given(st.binary(max_size=100), st.binary(max_size=100), st.integers(0, 2**32 - 1))
def test_sign_request_layout(blob: bytes, data: bytes, flags: int) -> None:
    kind, contents, rest = split_frame(sign_request(blob, data, flags)) or (0, b"", b"")
    assert (kind, rest) == (sshagent.SIGN_REQUEST, b"")
    assert contents == encode_string(blob) + encode_string(data) + struct.pack(">I", flags)


def _openssh_public(key: ed25519.Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )


def test_blob_and_fingerprint_match_openssh_encoding() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes_raw()
    line = _openssh_public(key)
    blob = base64.b64decode(line.split()[1])
    assert ed25519_blob(public) == blob
    assert ed25519_public(blob) == public
    want = "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    assert fingerprint(blob) == want
    for spec in (want, line.split()[1], line, line + " comment"):
        assert parse_key_spec(spec) == want


@given(st.binary(max_size=80))
def test_only_ed25519_blobs_have_a_public_key(blob: bytes) -> None:
    public = ed25519_public(blob)
    assert public is None or ed25519_blob(public) == blob


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("SHA256:abc", "not a SHA256 fingerprint"),
        ("SHA256:!!", "not base64"),
        ("ssh-rsa AAAA x", "want SHA256"),
        ("AAAAB3NzaC1yc2EAAAADAQAB", "not an ssh-ed25519"),
        ("not base64!", "want SHA256"),
    ],
)
def test_bad_key_specs_are_refused(spec: str, error: str) -> None:
    with pytest.raises(AgentKeySpecError, match=error):
        parse_key_spec(spec)
    assert issubclass(AgentKeySpecError, TlogError)
