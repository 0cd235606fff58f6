"""Key bindings: an identity provider's signed statement that an identity's key is K.

In the spirit of key transparency (CONIKS): the provider publishes every
binding in a log, so a monitor watching an identity sees any key the provider
vouches for, including one it was coerced into binding. The entry is a C2SP
signed note by the provider's key:

    witnessnet.dev/key-binding/v1
    provider <provider name, e.g. example.com>
    identity <identity, e.g. alice@example.com>
    key <the identity's public key as a vkey: name+hex key ID+base64(type||key)>

Lines appear in exactly this order, each `key value` with one space and a
one-word value. The vkey must be well-formed with a key ID that matches its
key (any signature type tlog knows). The claim is (identity, vkey).
"""

from __future__ import annotations

import re

from monitor.claims.claim import Claim, frozen, key_value_lines, open_signed_note
from monitor.errors import MalformedClaimError
from tlog.errors import TlogError
from tlog.keys import parse_vkey

TYPE = "key-binding"
HEADER = "witnessnet.dev/key-binding/v1"
MAGIC = HEADER.encode() + b"\n"
KEYS = ("provider", "identity", "key")
_NAME = re.compile(r"[\x21-\x7e]{1,256}", re.ASCII)


def sniff(entry: bytes) -> bool:
    """Whether entry claims to be a key binding (its first line)."""
    return entry.startswith(MAGIC)


def check_fields(provider: str, identity: str, vkey: str) -> None:
    """Raise MalformedClaimError unless every field is well-formed."""
    for what, value in (("provider", provider), ("identity", identity)):
        if not _NAME.fullmatch(value):
            raise MalformedClaimError(f"{what} {value[:80]!r} is not 1-256 printable characters")
    try:
        parse_vkey(vkey)
    except TlogError as e:
        raise MalformedClaimError(f"key is not a usable vkey: {e}") from None


def binding_text(provider: str, identity: str, vkey: str) -> str:
    """The note text of a key binding (to sign); raises MalformedClaimError on bad fields."""
    check_fields(provider, identity, vkey)
    return f"{HEADER}\nprovider {provider}\nidentity {identity}\nkey {vkey}\n"


def parse(entry: bytes) -> tuple[Claim, ...]:
    """The key binding in entry; MalformedClaimError if it is not one."""
    note = open_signed_note(entry, "key binding")
    provider, identity, vkey = key_value_lines(note.text, HEADER, KEYS, optional=0)
    check_fields(provider, identity, vkey)
    return (Claim(TYPE, identity, "", vkey, frozen({"provider": provider}), note=note),)
