"""The console in Finnish, Swedish or English over a real socket: the browser's Accept-Language first, then the
user's choice (?lang= from the header's selector), remembered in a cookie."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from console_signin import signed_in

from console import testing as sample_log
from console.app import LANGUAGE_COOKIE, create_app
from foundation.i18n import translate
from projections import testing as ev
from sandbox.runner import SandboxServer
from streams.mapping.errors import solution_for

SIZE_SOLUTION = solution_for("SIZE_MUST_BE_BETWEEN_0_AND_100")


@pytest.fixture(scope="module")
def app_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("console-language") / "proj"
    sample_log.fill(root, long_row_text=True)
    return root


@pytest.fixture
def client(app_root: Path) -> Iterator[httpx.Client]:
    with signed_in(create_app(app_root, now=lambda: ev.at(3600), auth=sample_log.auth(), refresh=None)) as http:
        yield http


def test_the_overview_served_in_finnish_shows_finnish_texts_and_solutions(client: httpx.Client) -> None:
    page = client.get("/", headers={"Accept-Language": "fi-FI,fi;q=0.9,en;q=0.5"})
    assert page.status_code == 200
    text = page.text
    assert '<html lang="fi">' in text and "<title>Yleiskatsaus · sevpro</title>" in text
    for finnish in ('Vaatii toimenpiteitäsi <span class="muted">(2)</span>', ">Siirtoloki</a>", "<th>Mitä tehdä</th>",
                    "Kirjaudu ulos", html.escape(translate(SIZE_SOLUTION, "fi"))):
        assert finnish in text, finnish
    assert "Laskulla on rivejä, joilla kentän suurin sallittu merkkimäärä ylittyy." in text
    for english in ("Needs your action", "What to do", html.escape(SIZE_SOLUTION)):
        assert english not in text, english
    # A solution the catalogue does not have (written by hand in the sample) is shown as it was stored.
    assert html.escape(sample_log.SOLUTION) in text


def test_without_a_choice_or_a_language_of_ours_the_console_is_english(client: httpx.Client) -> None:
    for header in ({"Accept-Language": "de-DE,de;q=0.9"}, {}):
        text = client.get("/", headers=header).text
        assert '<html lang="en">' in text and "Needs your action" in text


def test_the_users_choice_is_remembered_over_the_browsers_language(client: httpx.Client) -> None:
    finnish_browser = {"Accept-Language": "fi-FI"}
    chosen = client.get("/transfers?lang=sv", headers=finnish_browser)
    assert '<html lang="sv">' in chosen.text and "<title>Överföringslogg · sevpro</title>" in chosen.text
    assert client.cookies.get(LANGUAGE_COOKIE) == "sv"
    assert '<a href="?lang=sv" hreflang="sv" lang="sv" aria-current="true">Svenska</a>' in chosen.text
    later = client.get("/", headers=finnish_browser).text
    assert '<html lang="sv">' in later and "Kräver åtgärd av dig" in later
    assert '<html lang="sv">' in client.get("/?lang=xx", headers=finnish_browser).text  # not a language of ours
    assert '<html lang="en">' in client.get("/?lang=en", headers=finnish_browser).text
    assert '<html lang="en">' in client.get("/", headers=finnish_browser).text


def test_the_login_page_speaks_the_browsers_language_before_signing_in(app_root: Path) -> None:
    app = create_app(app_root, now=lambda: ev.at(3600), auth=sample_log.auth(), refresh=None)
    with SandboxServer(app) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        page = http.get("/", headers={"Accept-Language": "sv-SE"}, follow_redirects=True)
        assert "<title>Logga in · sevpro</title>" in page.text and "Lösenord" in page.text
