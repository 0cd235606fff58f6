"""The exception hierarchy of gossip: messages, membership and evidence.

Every error is a tlog.errors.TlogError, so a caller that handles any bad input
catches one class. The gossip HTTP shell maps them to status codes in one
place: MalformedMessageError -> 400 (413 for OversizedMessageError),
UnknownSenderError and BadSignatureError -> 403, ReplayError -> 409. The
`evidence verify` command maps MalformedEvidenceError to exit 2 and
NotProofError to exit 1. The daemon's own failures are GossipStateError (its
database) and PeerError (an exchange with a peer that did not complete).
"""

from tlog.errors import TlogError


class GossipError(TlogError):
    """Base of every error raised by gossip on bad input or a failed check."""


class MalformedMessageError(GossipError):
    """A gossip message whose bytes do not follow the message format."""


class OversizedMessageError(MalformedMessageError):
    """A gossip message, or a part of one, over its size limit."""


class UnknownSenderError(GossipError):
    """A gossip message from a name that is not in the network file."""


class BadSignatureError(GossipError):
    """A gossip message whose signature does not verify with the sender's key."""


class ReplayError(GossipError):
    """A gossip message seen before, addressed to another witness, or outside the time window."""


class MembershipError(GossipError):
    """A network file that does not parse (the message names the file line)."""


class EvidenceError(GossipError):
    """An evidence file that is not genuine proof of misbehaviour."""


class MalformedEvidenceError(EvidenceError):
    """An evidence file whose bytes do not follow the evidence format."""


class NotProofError(EvidenceError):
    """A well-formed evidence file that does not prove what its kind claims."""


class SuspicionNotProofError(NotProofError):
    """A suspicion record: a witness's signed report, never proof by itself."""


class GossipStateError(GossipError):
    """The gossip database cannot be opened or written."""


class PeerError(GossipError):
    """An exchange with a peer that did not complete; `outcome` is the metric label."""

    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome
