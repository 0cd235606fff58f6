"""Fetching log list URLs: what counts as a list, and how each failure is labelled.
(The add-only behaviour end to end, over real HTTP, is in test_feeder.py.)"""

from __future__ import annotations

import httpx
import pytest

from witness import listpoller
from witness.listpoller import LogListFetchError, fetch_log_list


def answering(response: httpx.Response | Exception) -> httpx.AsyncClient:
    def handle(request: httpx.Request) -> httpx.Response:
        if isinstance(response, Exception):
            raise response
        return response

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


async def test_a_list_is_its_utf8_text() -> None:
    http = answering(httpx.Response(200, content="logs/v0\n# é\n".encode()))
    assert await fetch_log_list(http, "https://l/") == "logs/v0\n# é\n"


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (httpx.Response(404, content=b"no"), "http_status"),
        (httpx.Response(200, content=b"logs/v0\n\xff\n"), "malformed"),
        (httpx.Response(200, content=b"x" * 2048), "too_large"),
        (httpx.ConnectError("refused"), "unavailable"),
    ],
)
async def test_failures_are_labelled(
    response: httpx.Response | Exception, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listpoller, "MAX_LIST_BYTES", 1024)
    with pytest.raises(LogListFetchError) as e:
        await fetch_log_list(answering(response), "https://l/")
    assert e.value.kind == kind
    assert str(e.value).startswith("log list https://l/: ")
