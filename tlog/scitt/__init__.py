"""SCITT: transparent statements, COSE receipts (RFC 9942), trust stores, CCF JSON receipts.

- `receipt`: COSE receipts, RFC9162_SHA256 and CCF_LEDGER_SHA256, inclusion and consistency.
- `rfc9162_proof`, `ccf_proof`: the proof structures of each verifiable data structure.
- `statement`: signed and transparent statements; `report`: what was checked and why.
- `trust_store`: service and issuer keys (CCF/CTS stores, JWKS, this project's format).
- `did_x509`: does an x5chain resolve a did:x509 issuer.
- `legacy_receipt`: recognises pre-RFC 9942 scitt-ccf-ledger receipts (reported, not verified).
- `ccf_json_receipt`: CCF's JSON write receipts.
- `checkpoint`: a verified receipt's signed root as a checkpoint note; `source`: ScittSource.
"""
