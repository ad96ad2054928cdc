"""`sevpro tenants show`: the APIs a tenant calls (its own, or the deployment's, named), and never a secret: only
references, and an URL without its password."""

from __future__ import annotations

import re

import pytest

from tests.integration.pool.deployment import Pool, sevpro

pytestmark = pytest.mark.integration


def test_tenants_show_names_the_apis_a_tenant_calls_never_a_password(pool: Pool, unique: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    own, default = f"own{unique}", f"default{unique}"
    monkeypatch.setenv("SEVPRO_PROCOUNTOR_URL", "https://procountor.example/api")
    common = ["--severa-client-id", "x", "--severa-client-secret", "env:POOL_NOT_SET", "--procountor-client-id", "x",
              "--procountor-client-secret", "env:POOL_NOT_SET", "--by", "test"]
    sevpro("tenants", "add", own, *common, "--severa-url", "https://user:s3cret@severa.example/rest-api",
           "--procountor-url", "https://p.example/api")
    sevpro("tenants", "add", default, *common)
    shown = sevpro("tenants", "show", own)
    assert "https://user:***@severa.example/rest-api" in shown and "https://p.example/api" in shown, shown
    assert "s3cret" not in shown
    shown = sevpro("tenants", "show", default)  # a table: a long value is wrapped between words
    assert "https://procountor.example/api" in shown and "SEVPRO_PROCOUNTOR_URL" in shown, shown
    assert "SEVPRO_SEVERA_URL" in shown and "deployment's" in shown, shown
    assert not re.search(r"(severa|procountor)_url\s*│\s*None", shown), shown
