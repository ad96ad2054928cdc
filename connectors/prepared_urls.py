"""The request URLs of an API client, built once per route while a route's path and query stay the same.

httpx builds a request's URL from the client's base URL, the path and the query parameters anew for every
request, parsing and validating each part again (some 70 µs a request: a sixth of a pool worker's polling), and
a poller's reads repeat theirs: the same `changedSince` until something changes. So each client keeps the URL it
built last per route (path template) and passes it whole to httpx, which then takes it as it is; a request whose
path or query differs (another record, another page, a later `changedSince`) builds and keeps its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx


class PreparedUrls:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self._last: dict[str, tuple[str, httpx.URL]] = {}  # template → (path and query as asked, its URL)

    def url(self, template: str, path: str, params: Mapping[str, Any]) -> httpx.URL:
        """The URL of `path` (`template` filled in) with the query `params`, exactly as httpx builds it."""
        # The key tells apart what httpx writes differently (repr: True from 1, "1" from 1, a list from a value).
        asked = f"{path}?{params!r}"
        last = self._last.get(template)
        if last is not None and last[0] == asked:
            return last[1]
        url = self._http.build_request("GET", path, params=params).url
        self._last[template] = (asked, url)
        return url
