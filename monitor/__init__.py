"""The monitor role: follow logs entry by entry, verify them against cosigned roots,
check the claims they hold, and report findings (docs/monitor.md).

Pure, no I/O:
- ``claims``: one parser per claim type, and the registry of claim types;
- ``cose``, ``semver``: COSE_Sign1 decoding and verification; version precedence;
- ``rules``: the checks each claim must pass, and the memory they keep;
- ``tree``: verifying checked entries against a signed root, batch by batch;
- ``checkpoints``: choosing the newest checkpoint that meets the policy;
- ``findings``: findings as self-contained JSON, and their alerts;
- ``config``: the TOML configuration.

The I/O edge (trio): ``sources`` and ``bundles`` (reading a log), ``store`` (SQLite
state and outbox), ``outbox`` and ``sinks`` (alert delivery), ``follower`` (one log),
``service`` (all logs, scan and run), ``progress``, and ``release_verify`` (the relying
party's check of a firmware release).
"""
