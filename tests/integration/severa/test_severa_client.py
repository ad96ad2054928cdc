"""SeveraClient against the Severa sandbox over a real socket."""

from __future__ import annotations

import asyncio
import datetime as dt
import random

import pytest

from connectors.severa.errors import (
    SeveraAuthError,
    SeveraForbidden,
    SeveraNotFound,
    SeveraRateLimited,
    SeveraTransientError,
    SeveraValidationError,
)
from sandbox.severa.store import demo_guid

WAITING = demo_guid("invoicestatus", "Waiting for transfer to Procountor")
TRANSFERRED = demo_guid("invoicestatus", "Transferred to Procountor")


async def test_login_reuses_token_and_refreshes_before_expiry(severa_sandbox_factory) -> None:
    with severa_sandbox_factory(access_token_lifetime_s=1.0) as sb:
        async with sb.client() as client:
            await client.get_organization_details()
            await client.list_invoice_statuses()
            assert client.calls["POST /v1/token"] == 1
            await asyncio.sleep(1.05)
            # The old token is expired server-side; the client must refresh instead of failing with 401.
            details = await client.get_organization_details()
            assert details["name"] == "Kumpula Consulting"
            assert client.calls["POST /v1/refreshtoken"] == 1
            assert client.calls["POST /v1/token"] == 1
            assert sb.stats()["calls"].get("GET /v1/organizationdetails") == 2


async def test_relogin_once_when_token_is_revoked(severa) -> None:
    async with severa.client() as client:
        await client.get_organization_details()
        severa.sandbox.tokens.access.clear()  # server forgets every access token
        severa.sandbox.tokens.refresh.clear()
        statuses = await client.list_invoice_statuses()
        assert {s["name"] for s in statuses} >= {"Draft", "Paid"}
        assert client.calls["POST /v1/token"] == 2


async def test_wrong_secret_is_auth_error_without_secret_in_message(severa) -> None:
    async with severa.client(client_secret="not-the-secret-xyz") as client:
        with pytest.raises(SeveraAuthError) as info:
            await client.get_organization_details()
    assert info.value.status == 401
    assert info.value.type == "AuthenticationRequired"
    assert "not-the-secret-xyz" not in str(info.value)
    assert "not-the-secret-xyz" not in repr(client)


async def test_paging_follows_next_page_token_across_pages(severa_readonly) -> None:
    async with severa_readonly.client() as client:
        invoices = [i async for i in client.iter_pages("/v1/invoices", row_count=7)]
        assert len(invoices) == 36
        assert len({i["guid"] for i in invoices}) == 36
        assert sorted(i["number"] for i in invoices) == list(range(10001, 10037))
        assert client.calls["GET /v1/invoices"] == 6  # 7+7+7+7+7+1


async def test_filter_by_status_and_offset_lists(severa_readonly) -> None:
    async with severa_readonly.client() as client:
        waiting = await client.list_invoices(status_guids=[WAITING])
        assert len(waiting) == 12
        assert all(i["status"]["guid"] == WAITING for i in waiting)
        worktypes = [w async for w in client.iter_offset("/v1/worktypes", row_count=3)]
        assert sorted(w["code"] for w in worktypes) == ["DESIGN", "DEV", "PM", "TRAINING"]
        assert client.calls["GET /v1/worktypes"] == 2


async def test_changed_since_is_greater_or_equal_and_sees_patches(severa) -> None:
    async with severa.client() as client:
        invoices = await client.list_invoices()
        newest = max(invoices, key=lambda i: i["lastUpdatedDateTime"])
        since = dt.datetime.fromisoformat(newest["lastUpdatedDateTime"])
        assert since.utcoffset() == dt.timedelta(0)  # '+00:00' must survive URL encoding
        same = await client.list_invoices(changed_since=since)
        assert [i["guid"] for i in same] == [newest["guid"]]  # >=, so the newest itself is included

        target = next(i for i in invoices if i["number"] == 10003)
        patched = await client.set_invoice_status(target["guid"], TRANSFERRED)
        after = dt.datetime.fromisoformat(patched["lastUpdatedDateTime"])
        assert after > dt.datetime.fromisoformat(target["lastUpdatedDateTime"])
        changed = await client.list_invoices(changed_since=after)
        assert [i["number"] for i in changed] == [10003]
        assert await client.list_invoices(changed_since=after + dt.timedelta(microseconds=1)) == []


async def test_set_invoice_status_moves_it_between_status_lists(severa) -> None:
    async with severa.client() as client:
        invoice_guid = demo_guid("invoice", 10002)
        before = await client.get_invoice(invoice_guid)
        updated = await client.set_invoice_status(invoice_guid, TRANSFERRED)
        assert updated["status"] == {
            "guid": TRANSFERRED,
            "name": "Transferred to Procountor",
            "isSent": False,
            "isWaitingPayment": False,
            "isPaid": False,
        }
        assert updated["lastUpdatedDateTime"] > before["lastUpdatedDateTime"]
        assert updated["createdDateTime"] == before["createdDateTime"]
        assert (await client.get_invoice(invoice_guid))["status"]["guid"] == TRANSFERRED
        assert len(await client.list_invoices(status_guids=[WAITING])) == 11
        assert severa.store.get("invoices", invoice_guid)["status"]["guid"] == TRANSFERRED


async def test_invoice_rows_carry_codes_and_sources(severa_readonly) -> None:
    async with severa_readonly.client() as client:
        rows = await client.get_invoice_rows(demo_guid("invoice", 10003))
        assert [r["code"] for r in rows] == [["TRAINING"], ["SUPPORT-H"]]
        sources = await client.get_invoice_row_sources(rows[0]["guid"])
        assert [w["workType"]["code"] for w in sources["workhours"]] == ["TRAINING"]
        assert sources["projectfees"] == []


async def test_invoice_pdf_differs_per_option(severa_readonly) -> None:
    async with severa_readonly.client() as client:
        guid = demo_guid("invoice", 10002)
        full = await client.get_invoice_pdf(guid, pdf_get_options="All")
        only = await client.get_invoice_pdf(guid, pdf_get_options="InvoiceOnly")
        breakdown = await client.get_invoice_pdf(guid, pdf_get_options="AttachmentAndBreakdown")
        for pdf in (full, only, breakdown):
            assert pdf.startswith(b"%PDF-1.") and pdf.rstrip().endswith(b"%%EOF")
        assert len({full, only, breakdown}) == 3
        assert b"/Count 3" in full and b"/Count 1" in only and b"/Count 2" in breakdown
        assert b"INVOICE 10002" in only and b"INVOICE BREAKDOWN" not in only
        files = await client.list_invoice_files(guid)
        assert [f["name"] for f in files] == ["timesheet_10002.pdf"]
        data = await client.get_file_data(files[0]["fileGuid"])
        assert data.startswith(b"%PDF") and b"Timesheet for invoice 10002" in data


async def test_rate_limit_429_is_recovered(severa_sandbox_factory) -> None:
    with severa_sandbox_factory(rate_limit_per_second=3) as sb:
        async with sb.client(requests_per_second=100.0, max_retries=10, backoff_initial=0.1) as client:
            results = await asyncio.gather(*(client.get_invoice(demo_guid("invoice", n)) for n in range(10001, 10009)))
        assert [r["number"] for r in results] == list(range(10001, 10009))
        stats = sb.stats()
        assert stats["rate_limited"] > 0
        assert stats["calls"]["GET /v1/invoices/{guid}"] == 8 + stats["rate_limited"] - (
            stats["calls"]["POST /v1/token"] - 1
        )


async def test_rate_limit_honours_retry_after_and_gives_up_typed(severa_sandbox_factory) -> None:
    with severa_sandbox_factory(rate_limit_per_second=0) as sb:
        sb.sandbox.config.retry_after_s = 0.01  # the sandbox rounds Retry-After up to 1 s
        async with sb.client(max_retries=1, backoff_max=0.05) as client:
            with pytest.raises(SeveraRateLimited) as info:
                await client.get_organization_details()
        assert info.value.status == 429
        assert info.value.retry_after == 1.0
        assert "quota exceeded" in info.value.message
        assert isinstance(info.value, SeveraTransientError)
        assert sb.stats()["rate_limited"] == 2


async def test_injected_500s_are_retried(severa_sandbox_factory) -> None:
    with severa_sandbox_factory(error_rate=0.5) as sb:
        sb.sandbox.random = random.Random(7)
        async with sb.client(max_retries=12) as client:
            statuses = await client.list_invoice_statuses()
            customers = await client.list_customers()
        assert len(statuses) == 5 and len(customers) == 20
        assert sb.stats()["injected_errors"] > 0


async def test_persistent_500_becomes_transient_error(severa_sandbox_factory) -> None:
    with severa_sandbox_factory(error_rate=1.0) as sb:
        async with sb.client(max_retries=2) as client:
            with pytest.raises(SeveraTransientError) as info:
                await client.list_invoice_statuses()
        assert info.value.status == 500
        assert info.value.type == "InternalSystemError"
        # The login is the first request: tried 1 + max_retries times, then the call gives up.
        assert sb.stats()["calls"] == {"POST /v1/token": 3}
        assert sb.stats()["injected_errors"] == 3


async def test_create_is_not_blindly_repeated_after_500(severa_sandbox_factory) -> None:
    with severa_sandbox_factory() as sb:
        async with sb.client(max_retries=3) as client:
            await client.get_organization_details()  # log in first
            sb.sandbox.config.error_rate = 1.0
            with pytest.raises(SeveraTransientError) as info:
                await client.create_customer({"name": "Maybe Created Oy"})
        assert info.value.maybe_applied is True
        assert client.calls["POST /v1/customers"] == 1


async def test_typed_errors_404_400_403(severa) -> None:
    async with severa.client() as client:
        with pytest.raises(SeveraNotFound) as not_found:
            await client.get_invoice(demo_guid("invoice", 99999))
        assert not_found.value.status == 404

        with pytest.raises(SeveraValidationError) as invalid:
            await client.create_customer({"number": 5555})
        assert invalid.value.status == 400
        assert invalid.value.type == "InvalidParameter"
        assert invalid.value.fields == ["name"]

        with pytest.raises(SeveraValidationError) as bad_status:
            await client.set_invoice_status(demo_guid("invoice", 10002), demo_guid("invoicestatus", "Nope"))
        assert bad_status.value.fields == ["/status/guid"]

    async with severa.client(scopes=["invoices:read"]) as narrow:
        assert len(await narrow.list_invoices(status_guids=[WAITING])) == 12
        with pytest.raises(SeveraForbidden) as forbidden:
            await narrow.list_customers()
        assert forbidden.value.status == 403
        assert forbidden.value.type == "InsufficientApiScope"
        assert "customers:read" in forbidden.value.message


async def test_data_put_in_through_the_api_is_invoiced(severa) -> None:
    async with severa.client() as client:
        customer = await client.create_customer({"name": "Uusi Asiakas Oy", "number": 3001, "vatNumber": "1234567-1"})
        await client.create_customer_address(
            customer["guid"],
            {
                "addressline": "Testikatu 1",
                "postalCode": "00100",
                "city": "Helsinki",
                "isPostalAddress": True,
                "country": {"guid": demo_guid("country", "FI")},
            },
        )
        project = await client.create_project(
            {
                "name": "API project",
                "customer": {"guid": customer["guid"]},
                "projectOwner": {"guid": None},
                "businessUnit": {"guid": demo_guid("businessunit", "FI")},
            }
        )
        assert project["rootPhase"]["guid"]
        fee = await client.create_project_fee(
            {
                "project": {"guid": project["guid"]},
                "product": {"guid": demo_guid("product", "WORKSHOP")},
                "quantity": 2,
                "unitPrice": {"amount": 1000.0, "currencyCode": "EUR"},
            }
        )
        await client.create_work_hour(
            {
                "phase": {"guid": project["rootPhase"]["guid"]},
                "user": {"guid": demo_guid("user", "E001")},
                "workType": {"guid": demo_guid("worktype", "DEV")},
                "eventDate": "2026-11-24",
                "quantity": 3,
                "unitPrice": {"amount": 100.0, "currencyCode": "EUR"},
            }
        )
        invoices = await client.create_invoices([project["guid"]], status_guid=WAITING, invoice_date="2026-11-25")
        assert len(invoices) == 1
        invoice = invoices[0]
        assert invoice["number"] == 10037 and invoice["customer"]["number"] == 3001
        assert invoice["receiverAddress"]["city"] == "Helsinki"
        assert invoice["totalExcludingTax"]["amount"] == 2300.0
        assert invoice["totalTax"]["amount"] == pytest.approx(586.5)
        rows = await client.get_invoice_rows(invoice["guid"])
        assert sorted(c for r in rows for c in r["code"]) == ["DEV", "WORKSHOP"]
        assert (await client.get_project_fee(fee["guid"]))["invoice"]["number"] == 10037
        assert len(await client.list_invoices(status_guids=[WAITING])) == 13


async def test_travel_reimbursement_flow(severa) -> None:
    waiting = demo_guid("travelreimbursementstatus", "Waiting for transfer to Procountor")
    transferred = demo_guid("travelreimbursementstatus", "Transferred to Procountor")
    async with severa.client() as client:
        found = await client.find_travel_reimbursement_status("Waiting for transfer to Procountor")
        assert found is not None and found["guid"] == waiting
        reimbursements = await client.list_travel_reimbursements(status_guids=[waiting])
        assert sorted(r["number"] for r in reimbursements) == [1, 2, 3]
        first = next(r for r in reimbursements if r["number"] == 1)
        expenses = await client.get_travel_reimbursement_expenses(first["guid"])
        assert sorted(e["travelExpense"]["code"] for e in expenses) == ["DAILY-FULL", "KM-ALLOWANCE"]
        user = await client.get_user(first["user"]["guid"])
        assert user["code"] == "E001" and user["bankAccountNumber"].startswith("FI")
        pdf = await client.get_travel_reimbursement_pdf(first["guid"])
        assert pdf.startswith(b"%PDF") and b"TRAVEL REIMBURSEMENT 1" in pdf
        updated = await client.set_travel_reimbursement_status(first["guid"], transferred)
        assert updated["travelReimbursementStatus"]["guid"] == transferred
        assert updated["lastUpdatedDateTime"] > first["lastUpdatedDateTime"]
        expenses = await client.get_travel_reimbursement_expenses(first["guid"])
        assert {e["travelReimbursement"]["status"] for e in expenses} == {"Transferred to Procountor"}
        assert len(await client.list_travel_reimbursements(status_guids=[waiting])) == 2


async def test_pdfs_of_records_with_empty_numbers_are_rendered(severa) -> None:
    """Severa prints whatever the record has: an empty quantity or price is no reason to refuse the PDF (the
    sandbox answered 400 'does not match the model' for them, which the transfers reported as the user's error;
    found by the fuzz benchmark)."""
    store = severa.server.app.state.store
    invoice_guid = demo_guid("invoice", 10002)
    row = store.find("invoicerows", invoiceGuid=invoice_guid)[0]
    store.update("invoicerows", row["guid"], {"quantity": None, "unitPrice": None, "vatRate": None})
    reimbursement = next(r for r in store.all("travelreimbursements")
                         if any((e.get("travelReimbursement") or {}).get("guid") == r["guid"]
                                for e in store.all("projecttravelexpenses")))
    expense = next(e for e in store.all("projecttravelexpenses")
                   if (e.get("travelReimbursement") or {}).get("guid") == reimbursement["guid"])
    store.update("projecttravelexpenses", expense["guid"], {"quantity": None, "eventDate": None})
    async with severa.client() as client:
        assert (await client.get_invoice_pdf(invoice_guid, pdf_get_options="All")).startswith(b"%PDF-1.")
        assert (await client.get_travel_reimbursement_pdf(reimbursement["guid"])).startswith(b"%PDF-1.")


async def test_money_is_read_as_decimal_never_float(severa_readonly) -> None:
    from decimal import Decimal

    async with severa_readonly.client() as client:
        invoice = await client.get_invoice(demo_guid("invoice", 10003))
        rows = await client.get_invoice_rows(demo_guid("invoice", 10003))
    amounts = [invoice["totalIncludingTax"]["amount"]] + [r["unitPrice"]["amount"] for r in rows]
    assert amounts and all(isinstance(a, Decimal | int) for a in amounts), amounts
    assert not any(isinstance(r.get("vatRate"), float) for r in rows)


async def test_a_customer_is_created_with_its_invoicing_vat(severa) -> None:
    """Severa's CustomerModel has `invoicingVat {guid, percentage, code}` (the rate the customer is invoiced at, with
    its code): the sandbox keeps it (it answered null whatever was given), and an unknown rate is refused by name."""
    from tests.public_reference import severa_model

    assert "invoicingVat" in {f["name"] for f in severa_model("CustomerModel")["fields"]}
    zero = next(r for r in severa.store.all("vatrates") if r["percentage"] == 0)
    async with severa.client() as client:
        created = await client.create_customer({"name": "EU Customer GmbH", "invoicingVat": {"guid": zero["guid"]}})
        read = await client.get_customer(created["guid"])
        assert read["invoicingVat"] == {"guid": zero["guid"], "percentage": 0, "code": zero["code"]}
        with pytest.raises(SeveraValidationError) as invalid:
            await client.create_customer({"name": "Unknown Rate Oy", "invoicingVat": {"guid": "not-a-rate"}})
        assert invalid.value.status == 400


async def test_under_a_backlog_the_invoice_poll_goes_ahead_of_the_queued_per_invoice_calls(severa) -> None:
    """Twelve transfers' PDF downloads wait at the pacer (4 a second) when the invoice poller reads what changed:
    the read whose answer many transfers' checks wait for is sent next, not after the twelve (three seconds
    later). A check's own read by number waits its turn (its batch gathers meanwhile)."""
    async with severa.client(requests_per_second=4.0) as client:
        [invoice] = await client.list_invoices(numbers=[10002])
        finished: list[str] = []

        async def download(n: int) -> None:
            await client.get_invoice_pdf(invoice["guid"])
            finished.append(f"pdf {n}")

        downloads = [asyncio.create_task(download(n)) for n in range(12)]
        for _ in range(200):  # until the downloads but the one being sent wait at the pacer
            if len(client._limiter._waiters) >= 11:  # noqa: SLF001
                break
            await asyncio.sleep(0.01)
        assert len(client._limiter._waiters) >= 11  # noqa: SLF001
        checked = asyncio.create_task(client.list_invoices(numbers=[10002, 10003]))
        await asyncio.sleep(0.05)
        assert await client.list_invoices(changed_since=dt.datetime.now(dt.UTC) - dt.timedelta(days=3650))
        finished.append("poll")
        await checked
        finished.append("check")
        await asyncio.gather(*downloads)

    assert finished.index("poll") <= 2, finished
    assert finished.index("check") >= 10, finished
