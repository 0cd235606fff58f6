"""CCF ledgers: chunk and transaction parsing, ledger verification, receipts and signed roots.

- chunk: ledger chunk files and their offset tables
- tx: transaction headers, public domain tables, the Merkle leaf rule
- signatures: node signatures, COSE root signatures, the serialised tree table
- verify: replay a ledger, rebuild its tree, check every signature transaction
- files: read chunk files from disk (the only I/O here)
- receipt: CCF JSON receipts and COSE receipts with CCF inclusion proofs
- heads: signed roots as C2SP checkpoint notes (see tlog.keys CcfCoseVerifier)
- source: CcfLedgerSource, the LedgerSource of kind "ccf"
"""
