"""Error notification emails over a real SMTP socket: one per failed request, deduplicated, batched, outbox."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from outcomes import outcome, smtp
from pydantic import SecretStr
from smtp_sink import SmtpSink
from structlog.testing import capture_logs

from foundation.company import CompanySettings
from streams.mapping.errors import SOLUTIONS
from streams.notification_log import NotificationLog
from streams.notify import Notifier, NotifierConfig, on_outcome

pytestmark = pytest.mark.integration


async def test_one_email_per_failed_request_with_the_solution(
        smtp_sink: SmtpSink, companies: dict[str, CompanySettings], tmp_path: Path) -> None:
    notifier = Notifier(smtp(smtp_sink), NotificationLog(tmp_path / "n.sqlite3"))
    try:
        await on_outcome(outcome("10007"), companies, notifier)
        await on_outcome(outcome("20001", company="SE"), companies, notifier)  # SE: send_error_email off
        await on_outcome(outcome("10009", "succeeded"), companies, notifier)
        assert await notifier.flush_due() == 0  # inside the batch window (0.2 s)
        await asyncio.sleep(0.25)
        assert await notifier.flush_due() == 1
        [received] = await smtp_sink.wait_for(1)
        message = received.message
        assert received.recipients == ["billing@kumpula.example"]
        assert message["Subject"] == ("[Kumpula Consulting Oy] Severa → Procountor: "
                                      "sales invoice 10007 was not transferred")
        text = message.get_content()
        for expected in ("CLOSED_FISCAL_PERIOD", "billingDate", "2019-12-31", SOLUTIONS["CLOSED_FISCAL_PERIOD"],
                         "sevpro show 10007"):
            assert expected in text
        assert "20001" not in text
    finally:
        await notifier.aclose()
    assert len(smtp_sink.received) == 1


async def test_a_redelivered_outcome_sends_nothing_more(
        smtp_sink: SmtpSink, companies: dict[str, CompanySettings], tmp_path: Path) -> None:
    notifier = Notifier(smtp(smtp_sink), NotificationLog(tmp_path / "n.sqlite3"))
    failed = outcome("10008", code="ERROR_BRN_CODE")
    try:
        await on_outcome(failed, companies, notifier)
        assert await notifier.flush_due(force=True) == 1
        await smtp_sink.wait_for(1)
        await on_outcome(failed, companies, notifier)  # at-least-once: the same event again
        await on_outcome(outcome("10008", attempt=2, code="ERROR_BRN_CODE"), companies, notifier)  # same request
        assert await notifier.flush_due(force=True) == 0
    finally:
        await notifier.aclose()
    # A restarted worker (same record of sent notifications) that is handed the outcome again stays quiet too.
    restarted = Notifier(smtp(smtp_sink), NotificationLog(tmp_path / "n.sqlite3"))
    try:
        assert not await restarted.record(failed, companies["FI"])
        assert await restarted.flush_due(force=True) == 0
    finally:
        await restarted.aclose()
    assert len(smtp_sink.received) == 1
    assert SOLUTIONS["ERROR_BRN_CODE"] in smtp_sink.received[0].message.get_content()


async def test_transient_failures_wait_for_the_threshold(
        smtp_sink: SmtpSink, companies: dict[str, CompanySettings], tmp_path: Path) -> None:
    notifier = Notifier(smtp(smtp_sink, transient_threshold=3), NotificationLog(tmp_path / "n.sqlite3"))
    # Retries are new requests (reprocess ids), each starting again at attempt 1.
    tries = [outcome("10010", "failed_transient", request=f"demo:sales-invoice:guid-10010:v1{suffix}")
             for suffix in ("", ":reprocess:1", ":reprocess:2")]
    try:
        for attempt in tries[:2]:
            assert not await notifier.record(attempt, companies["FI"])
        assert not await notifier.record(tries[1], companies["FI"])  # a redelivery does not count twice
        assert await notifier.flush_due(force=True) == 0
        assert smtp_sink.received == []
        assert await notifier.record(tries[2], companies["FI"])
        assert await notifier.flush_due(force=True) == 1
        [received] = smtp_sink.received
        assert "sales invoice 10010 could not be transferred after 3 attempts" in received.message["Subject"]
        assert not await notifier.record(outcome("10010", "failed_transient", request="x:reprocess:3"),
                                         companies["FI"])  # one email per record version
    finally:
        await notifier.aclose()


async def test_a_configuration_error_is_mailed_at_once_and_only_once_across_retries(
        smtp_sink: SmtpSink, companies: dict[str, CompanySettings], tmp_path: Path) -> None:
    """Severa refused a scope: the first failure is worth an e-mail (no threshold: no retry cures it until the
    configuration is fixed), and the retries on every cycle, each a new request, send nothing more."""
    notifier = Notifier(smtp(smtp_sink, transient_threshold=3), NotificationLog(tmp_path / "n.sqlite3"))
    tries = [outcome("10012", "failed_config", code="SEVERA_FORBIDDEN",
                     request=f"demo:sales-invoice:guid-10012:v1{suffix}")
             for suffix in ("", ":reprocess:1", ":reprocess:2")]
    try:
        assert await notifier.record(tries[0], companies["FI"])
        assert await notifier.flush_due(force=True) == 1
        for retry in tries[1:]:
            assert not await notifier.record(retry, companies["FI"])
        assert await notifier.flush_due(force=True) == 0
    finally:
        await notifier.aclose()
    [received] = smtp_sink.received
    assert received.message["Subject"] == ("[Kumpula Consulting Oy] Severa → Procountor: sales invoice 10012 "
                                           "was not transferred: the integration's settings were refused")
    text = received.message.get_content()
    for expected in ("SEVERA_FORBIDDEN", "InsufficientApiScope", SOLUTIONS["SEVERA_FORBIDDEN"],
                     "sevpro log --state failed-config"):
        assert expected in text


async def test_a_success_inside_the_window_cancels_the_email(
        smtp_sink: SmtpSink, companies: dict[str, CompanySettings], tmp_path: Path) -> None:
    notifier = Notifier(smtp(smtp_sink, transient_threshold=1, batch_seconds=60),
                        NotificationLog(tmp_path / "n.sqlite3"))
    try:
        assert await notifier.record(outcome("10011", "failed_transient"), companies["FI"])
        await notifier.record(outcome("10011", "succeeded", attempt=2), companies["FI"])
        assert await notifier.flush_due(force=True) == 0
    finally:
        await notifier.aclose()
    assert smtp_sink.received == []


async def test_failures_of_one_company_within_the_window_go_in_one_email(
        smtp_sink: SmtpSink, companies: dict[str, CompanySettings], tmp_path: Path) -> None:
    now = [1000.0]
    notifier = Notifier(smtp(smtp_sink, batch_seconds=60, max_age_seconds=1e12),
                        NotificationLog(tmp_path / "n.sqlite3"), clock=lambda: now[0])
    try:
        await notifier.record(outcome("10001"), companies["FI"])
        now[0] += 30
        await notifier.record(outcome("10002", code="SIZE_MUST_BE_BETWEEN_0_AND_100"), companies["FI"])
        await notifier.record(outcome("10003", code="REGISTRY_MISMATCH"), companies["FI"])
        await notifier.record(outcome("10004", code="ERROR_BRN_CODE"), companies["FI"])
        now[0] += 29
        assert await notifier.flush_due() == 0  # the first failure's window is still open
        now[0] += 1
        assert await notifier.flush_due() == 1
        now[0] += 1
        await notifier.record(outcome("10005"), companies["FI"])  # after the window: the next email
        now[0] += 60
        assert await notifier.flush_due() == 1
    finally:
        await notifier.aclose()
    first, second = (r.message for r in smtp_sink.received)
    assert first["Subject"] == ("[Kumpula Consulting Oy] Severa → Procountor: 4 records were not transferred: "
                                "sales invoice 10001, sales invoice 10002, sales invoice 10003 and 1 more")
    body = first.get_content()
    for code in ("CLOSED_FISCAL_PERIOD", "SIZE_MUST_BE_BETWEEN_0_AND_100", "REGISTRY_MISMATCH", "ERROR_BRN_CODE"):
        assert SOLUTIONS[code] in body
    assert [f"sevpro show 1000{n}" in body for n in range(1, 6)] == [True] * 4 + [False]
    assert "sales invoice 10005 was not transferred" in second["Subject"]


async def test_without_smtp_the_email_is_an_eml_file_in_the_outbox(
        companies: dict[str, CompanySettings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEVPRO_HOME", str(tmp_path / "home"))
    notifier = Notifier(NotifierConfig(batch_seconds=0.05))  # default log and outbox under the project home
    try:
        await notifier.record(outcome("10012", code="SIZE_MUST_BE_BETWEEN_0_AND_100"), companies["FI"])
        assert await notifier.flush_due(force=True) == 1
        assert await notifier.flush_due(force=True) == 0
    finally:
        await notifier.aclose()
    assert (tmp_path / "home" / "notifications.sqlite3").exists()
    [eml] = (tmp_path / "home" / "outbox").glob("*.eml")
    message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    assert message["To"] == "billing@kumpula.example"
    assert message["From"] == "sevpro@localhost"
    assert message["Subject"].endswith("sales invoice 10012 was not transferred")
    assert SOLUTIONS["SIZE_MUST_BE_BETWEEN_0_AND_100"] in message.get_content()
    assert message["Message-ID"].startswith("<") and message["Date"]


async def test_no_secret_in_any_log_line(
        smtp_sink: SmtpSink, companies: dict[str, CompanySettings], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    password = "s3cret-Smtp-Passw0rd"
    smtp_sink.user, smtp_sink.password = "sevpro", "the-server-wants-another"
    config = smtp(smtp_sink, smtp_user="sevpro", smtp_password=SecretStr(password), batch_seconds=0)
    notifier = Notifier(config, NotificationLog(tmp_path / "n.sqlite3"))
    try:
        with capture_logs() as logs:
            await notifier.record(outcome("10013"), companies["FI"])
            assert await notifier.flush_due(force=True) == 0  # refused: logged, left pending
            smtp_sink.password = password
            assert await notifier.flush_due(force=True) == 1
    finally:
        await notifier.aclose()
    assert smtp_sink.auth_attempts == [("sevpro", password), ("sevpro", password)]  # the password was used
    assert any(entry["event"] == "error notification not delivered; retried later" for entry in logs)
    assert any(entry["event"] == "error notification sent" for entry in logs)
    forms = [password, base64.b64encode(f"\0sevpro\0{password}".encode()).decode()]
    everything = repr(logs) + caplog.text + repr(config)
    assert not [form for form in forms if form in everything]


async def test_two_workers_sharing_the_record_send_a_batch_once(
        smtp_sink: SmtpSink, companies: dict[str, CompanySettings], tmp_path: Path) -> None:
    first = Notifier(smtp(smtp_sink), NotificationLog(tmp_path / "n.sqlite3"))
    second = Notifier(smtp(smtp_sink), NotificationLog(tmp_path / "n.sqlite3"))  # another worker on the host
    try:
        await first.record(outcome("10014"), companies["FI"])
        await second.record(outcome("10015"), companies["FI"])
        sent = await asyncio.gather(first.flush_due(force=True), second.flush_due(force=True))
    finally:
        await first.aclose()
        await second.aclose()
    assert sorted(sent) == [0, 1]
    [received] = smtp_sink.received
    assert "2 records were not transferred" in received.message["Subject"]


async def test_a_replay_of_old_failures_sends_nothing(
        smtp_sink: SmtpSink, companies: dict[str, CompanySettings], tmp_path: Path) -> None:
    notifier = Notifier(smtp(smtp_sink, transient_threshold=1), NotificationLog(tmp_path / "n.sqlite3"))
    last_week = datetime.now(UTC) - timedelta(days=7)
    try:
        assert not await notifier.record(outcome("10016", occurred_at=last_week), companies["FI"])
        assert not await notifier.record(outcome("10017", "failed_transient", occurred_at=last_week), companies["FI"])
        assert await notifier.record(outcome("10018"), companies["FI"])  # today's: sent
        assert await notifier.flush_due(force=True) == 1
    finally:
        await notifier.aclose()
    assert "10018" in smtp_sink.received[0].message["Subject"]


async def test_a_transfer_with_a_totals_warning_is_mailed_once_as_something_to_check(
        smtp_sink: SmtpSink, companies: dict[str, CompanySettings], tmp_path: Path) -> None:
    notifier = Notifier(smtp(smtp_sink), NotificationLog(tmp_path / "n.sqlite3"))
    warning = ("Procountor's totals differ from Severa's by more than 0.01 per VAT rate (1 rate): VAT Severa 0.13, "
               "Procountor 0.15; gross Severa 0.63, Procountor 0.65")
    try:
        warned = outcome("10012", "succeeded") | {"warning": warning, "target_id": "9012"}
        await on_outcome(warned, companies, notifier)
        await on_outcome(warned, companies, notifier)  # redelivered: one email
        await on_outcome(outcome("10013", "succeeded"), companies, notifier)  # no warning: no email
        await asyncio.sleep(0.25)
        assert await notifier.flush_due() == 1
        [received] = await smtp_sink.wait_for(1)
        assert received.message["Subject"] == ("[Kumpula Consulting Oy] Severa → Procountor: sales invoice 10012 was "
                                               "transferred, and needs checking")
        text = received.message.get_content()
        assert "TOTALS_DIFFER" in text and "VAT Severa 0.13, Procountor 0.15" in text and "sevpro show 10012" in text
        assert "10013" not in text
    finally:
        await notifier.aclose()
    assert len(smtp_sink.received) == 1


async def test_a_swedish_company_gets_its_error_email_in_swedish(
        smtp_sink: SmtpSink, companies: dict[str, CompanySettings], tmp_path: Path) -> None:
    """No `language` setting: the company's country (SE) decides; the solution is the catalogue's Swedish text."""
    swedish = companies["SE"].model_copy(update={"send_error_email": True, "error_email": "ekonomi@kumpula.example"})
    assert swedish.language is None
    notifier = Notifier(smtp(smtp_sink), NotificationLog(tmp_path / "n.sqlite3"))
    try:
        await on_outcome(outcome("20001", company="SE", code="ERROR_BRN_CODE"), {"SE": swedish}, notifier)
        await asyncio.sleep(0.25)
        assert await notifier.flush_due() == 1
        [received] = await smtp_sink.wait_for(1)
    finally:
        await notifier.aclose()
    message = received.message
    assert message["Subject"].endswith("Severa → Procountor: kundfaktura 20001 överfördes inte")
    text = " ".join(message.get_content().split())  # the labels' column is as wide as the longest Swedish one
    assert "Lösning: Kundens organisationsnummer på fakturan har fel format. Rätta organisationsnumret på " \
           "kundkortet i Severa och försök överföra fakturan igen." in text
    for swedish_text in ("rapporterade ett fel.", "Fel: ERROR_BRN_CODE", "Fält: billingDate",
                         "Datafel försöks inte igen"):
        assert swedish_text in text
    for english in ("Solution", "was not transferred", SOLUTIONS["ERROR_BRN_CODE"]):
        assert english not in text
