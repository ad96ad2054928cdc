"""One control character in a supplier name, product code or business-unit name stopped every error e-mail of the
tenant: the subject builder raised after the batch was claimed, and it was claimed again every 300 s."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from outcomes import outcome, smtp
from smtp_sink import SmtpSink

from foundation.company import CompanySettings
from streams.notification_log import NotificationLog
from streams.notify import Notifier, on_outcome

pytestmark = pytest.mark.integration


def _control_free(text: str) -> bool:
    return not any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in text)


async def test_control_characters_in_record_and_company_names_are_cleaned_from_the_subject(
        smtp_sink: SmtpSink, companies: dict[str, CompanySettings], tmp_path: Path) -> None:
    companies["FI"] = companies["FI"].model_copy(update={"display_name": "Kumpula\r\nConsulting\x00 Oy"})
    notifier = Notifier(smtp(smtp_sink), NotificationLog(tmp_path / "n.sqlite3"))
    try:
        failed = outcome("10007", code="ERROR_BRN_CODE")
        failed["error"]["record"] = "product KM\x07-2025\nX\u2028Y"  # a product code as Severa had it
        await on_outcome(failed, companies, notifier)
        assert await notifier.flush_due(force=True) == 1
        [received] = await smtp_sink.wait_for(1)
    finally:
        await notifier.aclose()
    subject = received.message["Subject"]
    assert _control_free(subject), repr(subject)
    assert subject.startswith("[Kumpula Consulting Oy]") and "product KM -2025 X Y" in subject


async def test_a_message_that_cannot_be_built_is_parked_with_its_reason_and_the_rest_go_out(
        smtp_sink: SmtpSink, companies: dict[str, CompanySettings], tmp_path: Path) -> None:
    # An address no header can carry (settings files are edited by hand), and a second company that is fine.
    companies["FI"] = companies["FI"].model_copy(update={"error_email": "billing@kumpula.example\nBcc: x@y.example"})
    companies["SE"] = companies["SE"].model_copy(update={"send_error_email": True,
                                                         "error_email": "ekonomi@kumpula.example"})
    store = NotificationLog(tmp_path / "n.sqlite3")
    notifier = Notifier(smtp(smtp_sink), store)
    try:
        await on_outcome(outcome("10007"), companies, notifier)
        await on_outcome(outcome("20001", company="SE"), companies, notifier)
        assert await notifier.flush_due(force=True) == 1  # SE's went out; FI's did not stop it
        [received] = await smtp_sink.wait_for(1)
        assert received.recipients == ["ekonomi@kumpula.example"]
        [parked] = store.parked()
        assert parked["key"] == "data:demo:sales-invoice:guid-10007:v1"
        assert "ValueError" in parked["reason"]
        assert await notifier.flush_due(force=True) == 0  # parked: not claimed and failed again every cycle
    finally:
        await notifier.aclose()
    assert len(smtp_sink.received) == 1
