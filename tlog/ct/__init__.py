"""Certificate Transparency: RFC 6962 and static-ct-api formats and log clients.

Pure format modules (no I/O): ``tls`` (the TLS presentation-language reader
the RFC 6962 structures are written in), ``sth`` (signed tree heads, their
signatures and their checkpoint form), ``leaf`` (MerkleTreeLeaf,
TimestampedEntry, get-entries extra_data, static-ct-api data tiles) and
``der`` (the few certificate fields a monitor reads: subject CN and SAN
dNSNames). Clients: ``client`` (the RFC 6962 JSON API, ledger kind ``ct``)
and ``static_client`` (static-ct-api tiles, ledger kind ``static-ct``).
"""
