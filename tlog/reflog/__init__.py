"""The reference log: a small, crash-safe C2SP tlog-tiles log with a split-view drill.

Modules, bottom up: ``edge`` (pure: the tree's right edge and the files each
append publishes), ``journal`` (pure: the batch record replayed after a crash),
``storage`` (durable atomic file writes), ``log`` (the directory's single
writer), ``sequencer`` (trio: batching and /add waiters), ``fork`` (the
split-view mirror), ``cosigning`` (pushing checkpoints to witnesses and
publishing their cosignatures), ``http`` (the ASGI app) and ``server``
(hypercorn on trio).
"""
