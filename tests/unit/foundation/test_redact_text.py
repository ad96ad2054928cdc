"""Exception messages that go into events and e-mails lose the values of anything that looks like a secret."""

from __future__ import annotations

import pytest

from foundation.logs import redact_text


@pytest.mark.parametrize(("text", "secret"), [
    ("401 for Authorization: Bearer eyJhbGciOi.abc-def", "eyJhbGciOi.abc-def"),
    ("POST /oauth/token failed: client_secret=s3cr3t&api_key=k3y", "s3cr3t"),
    ("POST /oauth/token failed: client_secret=s3cr3t&api_key=k3y", "k3y"),
    ('body {"access_token": "tok-123", "x": 1}', "tok-123"),
    ("password='hunter2' rejected", "hunter2"),
])
def test_secret_values_are_redacted(text: str, secret: str) -> None:
    redacted = redact_text(text)
    assert secret not in redacted and "***" in redacted


def test_other_text_is_kept() -> None:
    text = "ValueError: Out of range float values are not JSON compliant (row 3, product KM-2025)"
    assert redact_text(text) == text
