"""Defaults of the reference log that its command line shows in `--help`.

They live here, apart from the modules that use them, so that `witnessnet log serve
--help` can name them without importing trio, httpx and hypercorn.
"""

from __future__ import annotations

# Seconds the log waits for each witness's cosignature on a new checkpoint.
DEFAULT_WITNESS_TIMEOUT = 5.0
