"""The sales transfer sends what the public description requires (../shared/reference, read at run time)."""

from __future__ import annotations

import pytest

from tests.public_reference import procountor_schema

pytestmark = pytest.mark.integration


async def test_the_invoice_pdf_is_sent_with_the_invoice(stack) -> None:
    # The public Attachment model requires sendWithInvoice; without it Procountor keeps the PDF off the invoice.
    assert "sendWithInvoice" in procountor_schema("Attachment")["required"]
    result = await stack.transfer().handle(stack.request(10002))
    assert result.state == "succeeded", result.error
    [target] = stack.procountor_invoices("FI", 10002)
    [attachment] = target["attachments"]
    assert attachment["name"] == "invoice-10002.pdf" and attachment["sendWithInvoice"] is True
