"""The links from a record to its invoice in Severa and Procountor, and their settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from console.links import WebLinks
from foundation.settings import Settings

LINKS = WebLinks(severa="https://s.example/inv/{id}", procountor="https://p.example/invoices/{id}?x=1")


def _entry(kind: str, source: str | None = "g-1", target: str | None = "77") -> dict:
    return {"kind": kind, "severa_id": source, "procountor_id": target}


def test_each_kind_links_to_the_invoices_it_is_about() -> None:
    assert LINKS.of(_entry("sales-invoice")) == [("Severa", "https://s.example/inv/g-1"),
                                                 ("Procountor", "https://p.example/invoices/77?x=1")]
    assert LINKS.of(_entry("sales-invoice", target=None)) == [("Severa", "https://s.example/inv/g-1")]  # not yet
    assert LINKS.of(_entry("travel-reimbursement")) == [("Procountor", "https://p.example/invoices/77?x=1")]
    assert LINKS.of(_entry("purchase-invoice", source="5005", target=None)) == [
        ("Procountor", "https://p.example/invoices/5005?x=1")]  # the purchase invoice comes from Procountor
    assert LINKS.of(_entry("dimension-item")) == []
    # An id is one path segment, whatever it holds; an empty template shows no link.
    assert LINKS.of(_entry("sales-invoice", source="a/b?c", target=None)) == [("Severa", "https://s.example/inv/a%2Fb%3Fc")]
    assert WebLinks(severa="", procountor="").of(_entry("sales-invoice")) == []


def test_the_settings_take_an_address_with_one_id_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEVPRO_SEVERA_WEB_URL", "https://severa.example.com/invoice/{id}")
    monkeypatch.setenv("SEVPRO_PROCOUNTOR_WEB_URL", "")
    settings = Settings()
    assert WebLinks.from_settings(settings) == WebLinks("https://severa.example.com/invoice/{id}", "")
    for wrong in ("https://severa.example.com/invoice", "javascript:alert(1)//{id}", "https://x/{id}/{id}",
                  "https://x/{guid}/{id}", "ftp://x/{id}"):
        monkeypatch.setenv("SEVPRO_SEVERA_WEB_URL", wrong)
        with pytest.raises(ValidationError, match="severa_web_url"):
            Settings()
