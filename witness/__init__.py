"""The witness role: verify, persist and cosign checkpoints (C2SP tlog-witness).

- `decide`: the add-checkpoint protocol as pure functions (parse, verify, decide);
- `store`: durable per-log state and evidence, compare-and-swap with group commit;
- `service`: `Witness`, the one code path that HTTP requests and feeders both drive;
- `registry`, `config`, `loglist`, `ratelimit`: which logs are trusted, and how much;
- `server`, `metrics`, `statuspage`: the HTTP shell; `daemon`: running it all from a config.
"""
