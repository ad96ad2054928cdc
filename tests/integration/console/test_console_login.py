"""Console sign-in over a real socket: who gets in, who does not, and what another web site cannot do."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from console import testing as sample_log
from console.app import create_app
from console.auth import SESSION_COOKIE
from projections import testing as ev
from sandbox.runner import SandboxServer

NOW = ev.at(3600)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("console-login") / "proj"
    sample_log.fill(folder)
    return folder


@pytest.fixture(scope="module")
def server(root: Path) -> Iterator[SandboxServer]:
    with SandboxServer(create_app(root, now=lambda: NOW, auth=sample_log.auth())) as running:
        yield running


@pytest.fixture
def http(server: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def _token(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_a_page_without_a_session_goes_to_the_login(http: httpx.Client) -> None:
    for path in ("/", "/transfers?state=failed-data", "/records/inv-bad-1", "/ids"):
        answer = http.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next="), path
        assert "Needs your action" not in answer.text
    wanted = "/login?next=%2Ftransfers%3Fstate%3Dfailed-data"
    assert http.get("/transfers?state=failed-data").headers["location"] == wanted
    # Machines get a 401 that names Basic auth, and no data.
    for path in ("/api/overview", "/api/transfers", "/metrics"):
        answer = http.get(path)
        assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Basic"), path
    assert http.get("/healthz").status_code == 200  # the liveness probe stays open


def test_the_right_password_signs_in_and_returns_to_the_page_asked_for(http: httpx.Client) -> None:
    form = http.get("/login?next=%2Ftransfers%3Fstate%3Dfailed-data")
    assert form.status_code == 200 and 'type="password"' in form.text
    answer = http.post("/login", data={"username": sample_log.USER, "password": sample_log.PASSWORD,
                                       "csrf_token": _token(form), "next": "/transfers?state=failed-data"})
    assert answer.status_code == 303 and answer.headers["location"] == "/transfers?state=failed-data"
    page = http.get("/transfers?state=failed-data")
    assert page.status_code == 200 and "inv-bad-1" in page.text
    assert sample_log.USER in page.text and "Sign out" in page.text
    assert http.get("/api/overview").status_code == 200


def test_a_wrong_password_or_unknown_user_is_refused(http: httpx.Client) -> None:
    for user, password in ((sample_log.USER, "wrong"), ("nobody", sample_log.PASSWORD), (sample_log.USER, "")):
        form = http.get("/login")
        answer = http.post("/login", data={"username": user, "password": password, "csrf_token": _token(form),
                                           "next": "/"})
        assert answer.status_code == 401, (user, password)
        assert "Wrong user name or password." in answer.text
        assert http.get("/").status_code == 303  # still not signed in


def test_the_session_cookie_is_signed_http_only_and_same_site(server: SandboxServer, root: Path) -> None:
    with httpx.Client(base_url=server.url) as http:
        answer = sample_log.login(http)
        assert answer.status_code == 303
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith(SESSION_COOKIE + "=") and "httponly" in cookie.lower()
        assert "samesite=lax" in cookie.lower()
        value = http.cookies[SESSION_COOKIE]
    # A cookie changed by hand (a user name put in) is not a session.
    payload = base64.b64encode(b'{"user": "operator"}').decode()
    with httpx.Client(base_url=server.url, cookies={SESSION_COOKIE: payload + value[value.index("."):]}) as forged:
        assert forged.get("/").status_code == 303
    # Served behind TLS (the default when not on loopback), the cookie is Secure: a client on plain HTTP
    # does not even send it back.
    with SandboxServer(create_app(root, auth=sample_log.auth(secure_cookies=True))) as secure, \
            httpx.Client(base_url=secure.url) as http:
        assert "; secure" in http.get("/login").headers["set-cookie"].lower()
        assert sample_log.login(http).status_code == 403


def test_sign_out_ends_the_session(server: SandboxServer) -> None:
    with httpx.Client(base_url=server.url) as http:
        sample_log.login(http)
        page = http.get("/")
        assert page.status_code == 200
        assert http.post("/logout", data={"csrf_token": _token(page)}).status_code == 303
        assert http.get("/").status_code == 303


def test_a_state_changing_request_without_the_csrf_token_is_refused(server: SandboxServer) -> None:
    with httpx.Client(base_url=server.url) as http:
        sample_log.login(http)
        token = _token(http.get("/"))
        # What another site's form or script would send with the user's cookie: no token, or a wrong one.
        for data in ({}, {"csrf_token": "x" * 43}):
            answer = http.post("/logout", data=data)
            assert answer.status_code == 403 and "security token" in answer.text
        assert http.get("/").status_code == 200  # still signed in
        # The login form is protected too (login CSRF).
        fresh = httpx.Client(base_url=server.url)
        answer = fresh.post("/login", data={"username": sample_log.USER, "password": sample_log.PASSWORD})
        assert answer.status_code == 403
        fresh.close()
        # The header works for scripts.
        assert http.post("/logout", headers={"X-CSRF-Token": token}).status_code == 303


def test_only_allowed_host_names_are_served(server: SandboxServer) -> None:
    """DNS rebinding: a page of rebind.example whose name now resolves to 127.0.0.1 sends that Host."""
    with httpx.Client(base_url=server.url) as http:
        sample_log.login(http)
        assert http.get("/").status_code == 200
        for host in ("rebind.example", "rebind.example:8090", "127.0.0.1.nip.io"):
            answer = http.get("/api/overview", headers={"Host": host})
            assert answer.status_code == 400, host
            assert "acme" not in answer.text
        assert http.get("/", headers={"Host": "localhost"}).status_code == 200


def test_machines_may_use_basic_auth_for_reading(http: httpx.Client) -> None:
    assert http.get("/metrics", headers=_basic(sample_log.USER, sample_log.PASSWORD)).status_code == 200
    assert http.get("/api/overview", headers=_basic(sample_log.USER, sample_log.PASSWORD)).status_code == 200
    assert http.get("/metrics", headers=_basic(sample_log.USER, "wrong")).status_code == 401
    # ... but never to change anything: Basic credentials are no session (and no CSRF token).
    answer = http.post("/logout", headers=_basic(sample_log.USER, sample_log.PASSWORD))
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_the_proxy_header_counts_only_when_configured(root: Path, http: httpx.Client) -> None:
    assert http.get("/", headers={"X-Forwarded-User": "mallory"}).status_code == 303  # off by default
    with SandboxServer(create_app(root, auth=sample_log.auth(trusted_user_header="X-Forwarded-User"))) as proxied, \
            httpx.Client(base_url=proxied.url) as behind:
        page = behind.get("/", headers={"X-Forwarded-User": "alice@example.com"})
        assert page.status_code == 200 and "alice@example.com" in page.text
        assert behind.get("/api/overview").status_code == 200  # the proxy's session continues
    # A proxy's session, once the proxy header is turned off again, is no user of this console.
    secret = "s" * 40
    with SandboxServer(create_app(root, auth=sample_log.auth(session_secret=secret,
                                                             trusted_user_header="X-Forwarded-User"))) as proxied, \
            httpx.Client(base_url=proxied.url) as behind:
        assert behind.get("/", headers={"X-Forwarded-User": "alice@example.com"}).status_code == 200
        cookie = behind.cookies[SESSION_COOKIE]
    with SandboxServer(create_app(root, auth=sample_log.auth(session_secret=secret))) as direct, \
            httpx.Client(base_url=direct.url, cookies={SESSION_COOKIE: cookie}) as stale:
        assert stale.get("/").status_code == 303


def test_after_login_only_a_local_page_is_a_target(http: httpx.Client) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        form = http.get("/login")
        answer = http.post("/login", data={"username": sample_log.USER, "password": sample_log.PASSWORD,
                                           "csrf_token": _token(form), "next": target})
        assert answer.status_code == 303 and answer.headers["location"] == "/", target
