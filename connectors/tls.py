"""One TLS context for every API client of the process.

Each `httpx.AsyncClient` builds its own SSL context by default, loading the CA bundle again (tens of
milliseconds each); a pool worker opens clients for every tenant it serves, so it shares one instead. The
context is httpx's own default (certifi's CAs, `SSL_CERT_FILE` / `SSL_CERT_DIR` honoured).
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def shared_tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context(trust_env=True)
