"""Certificate Transparency entries: the names a logged certificate or precertificate is for.

An entry is an RFC 6962 MerkleTreeLeaf (tlog.ct.leaf), as the ``ct`` and
``static-ct`` ledger sources yield them. An x509 entry logs the certificate;
a precert entry logs the precertificate's TBSCertificate, whose names are
read with the same strict DER walk (tlog.ct.der). The claim's subject is the
first name; ``value`` is the SHA-256 (hex) of the logged certificate or TBS;
``fields`` has the entry type, the log timestamp (ms), the names (a JSON list
of lower-case dNSNames then common names) and, for a precert, the issuer key
hash.
"""

from __future__ import annotations

import hashlib
import json

from monitor.claims.claim import Claim, frozen
from monitor.errors import MalformedClaimError
from tlog.ct.der import certificate_names, tbs_names
from tlog.ct.errors import CTFormatError
from tlog.ct.leaf import parse_leaf

TYPE = "ct"
MIN_LEAF = 2 + 8 + 2 + 3 + 1 + 2


def sniff(entry: bytes) -> bool:
    """Whether entry starts like a MerkleTreeLeaf v1 timestamped_entry of a known entry type."""
    return (
        len(entry) >= MIN_LEAF
        and entry[:2] == b"\x00\x00"
        and entry[10:12]
        in (
            b"\x00\x00",
            b"\x00\x01",
        )
    )


def names(claim: Claim) -> list[str]:
    """The certificate names of a ct claim."""
    out: list[str] = json.loads(claim.fields["names"])
    return out


def parse(entry: bytes) -> tuple[Claim, ...]:
    """The certificate in entry; MalformedClaimError if it is not a CT leaf with a readable one."""
    try:
        leaf = parse_leaf(entry)
        found = (
            tbs_names(leaf.certificate) if leaf.is_precert else certificate_names(leaf.certificate)
        )
    except CTFormatError as e:
        raise MalformedClaimError(f"CT entry: {e}") from None
    all_names = found.all()
    fields = {
        "entry_type": "precertificate" if leaf.is_precert else "certificate",
        "timestamp": str(leaf.timestamp),
        "names": json.dumps(list(all_names)),
    }
    if leaf.is_precert:
        fields["issuer_key_hash"] = leaf.issuer_key_hash.hex()
    subject = all_names[0] if all_names else "(no names)"
    digest = hashlib.sha256(leaf.certificate).hexdigest()
    return (Claim(TYPE, subject, "", digest, frozen(fields)),)
