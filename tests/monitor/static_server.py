"""A static file server for tests: `python -m tests.monitor.static_server DIR`.

Serves DIR with Starlette's StaticFiles under hypercorn on 127.0.0.1 (port
chosen by the OS) and prints one JSON line, {"url": ...}, once listening. It
serves whatever is on disk, so a test can serve a tampered copy of a log.
"""

from __future__ import annotations

import json
import sys
from functools import partial

import hypercorn.trio
import trio
from hypercorn.config import Config
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles


async def main(directory: str) -> None:
    app = Starlette(routes=[Mount("/", StaticFiles(directory=directory))])
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(partial(hypercorn.trio.serve, app, config))
        print(json.dumps({"url": binds[0]}), flush=True)


if __name__ == "__main__":
    trio.run(main, sys.argv[1])
