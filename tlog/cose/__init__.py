"""Generic COSE (RFC 9052/9053): strict CBOR, COSE_Sign1, signature algorithms, keys. Pure.

- `tlog.cose.cbor`: the one strict CBOR decoder every COSE structure goes through.
- `tlog.cose.sign1`: COSE_Sign1 decoding, Sig_structure, detached payloads, verification.
- `tlog.cose.headers`: header labels and typed accessors (alg, kid, x5chain, CWT claims).
- `tlog.cose.algorithms`: ES256/384/512, EdDSA, PS256/384/512, RS256/384/512.
- `tlog.cose.keys`: public keys from certificates and JWKs; SPKI key IDs.
"""
