"""Attachment choice per the seed, and file pre-validation (GIF/JPEG/PDF, ≤ 10 MB, no special characters)."""

from __future__ import annotations

import pytest
from mapping_builders import settings

from streams.mapping.attachments import MAX_ATTACHMENT_BYTES, choose_attachment, validate_attachment
from streams.mapping.errors import TransferDataError

GROUPED = {"workHourGrouping": "Group", "projectFeeGrouping": "OneByOne", "projectTravelExpenseGrouping": "OneByOne"}
ONE_BY_ONE = {"workHourGrouping": "OneByOne", "projectFeeGrouping": "OneByOne",
              "projectTravelExpenseGrouping": "OneByOne"}  # fmt: skip
FILES = [{"name": "timesheet.pdf", "contentType": "application/pdf", "isInternal": False}]


def test_pdf_setting_transfers_everything():
    assert choose_attachment(settings()) == "All"
    assert choose_attachment(settings().sales_invoices) == "All"


def test_breakdown_setting_transfers_attachments_without_the_invoice_image():
    sett = settings(sales_invoices={"attachments": "breakdown"})
    assert choose_attachment(sett) == "AttachmentAndBreakdown"


@pytest.mark.parametrize(
    ("files", "grouping", "expected"),
    [(FILES, GROUPED, "AttachmentAndBreakdown"), (FILES, ONE_BY_ONE, None), ([], GROUPED, None), ([], None, None),
     ([{**FILES[0], "isInternal": True}], GROUPED, None),
     (FILES, {"projectTravelExpenseGrouping": "Group+Attachment"}, "AttachmentAndBreakdown")],
)  # fmt: skip
def test_none_setting_attaches_only_with_attachments_and_row_grouping(files, grouping, expected):
    sett = settings(sales_invoices={"attachments": "none"})
    assert choose_attachment(sett, files, grouping) == expected


def test_none_setting_never_reads_fields_the_severa_invoice_model_lacks():
    # InvoiceOutputModel has no `files` and no `invoiceSettings`: the rule must not fire from them.
    sett = settings(sales_invoices={"attachments": "none"})
    assert choose_attachment(sett, [], None) is None
    assert choose_attachment(sett, FILES, GROUPED) == "AttachmentAndBreakdown"


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [("lasku.pdf", "application/pdf", "lasku.pdf"), ("Kuva.JPG", "image/jpeg", "Kuva.jpg"),
     ("anim.gif", "image/gif", "anim.gif"), ("photo.jpeg", "image/jpg", "photo.jpeg"),
     ("Työaikaraportti marraskuu.pdf", "application/pdf", "Tyoaikaraportti_marraskuu.pdf"),
     ("a/b\\c:*?\"<>|.pdf", "application/pdf", "a_b_c.pdf"), ("receipt", "application/pdf", "receipt.pdf"),
     ("scan.pdf", None, "scan.pdf"), ("scan.pdf", "application/octet-stream", "scan.pdf"),
     ("report.txt", "application/pdf", "report.txt.pdf"), ("€€€.pdf", "application/pdf", "attachment.pdf"),
     ("doc.pdf", "application/pdf; charset=binary", "doc.pdf")],
)  # fmt: skip
def test_valid_attachments_get_a_clean_name(name, content_type, expected):
    cleaned = validate_attachment(name, content_type, 1000)
    assert cleaned == expected
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in cleaned)


def test_size_limit_at_the_boundary():
    assert validate_attachment("a.pdf", "application/pdf", MAX_ATTACHMENT_BYTES) == "a.pdf"
    assert MAX_ATTACHMENT_BYTES == 10_000_000
    with pytest.raises(TransferDataError) as raised:
        validate_attachment("a.pdf", "application/pdf", MAX_ATTACHMENT_BYTES + 1, record="sales invoice 10002")
    assert raised.value.code == "BAD_ATTACHMENT" and raised.value.record == "sales invoice 10002"
    with pytest.raises(TransferDataError):
        validate_attachment("a.pdf", "application/pdf", 0)


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("a.png", "image/png"), ("a.docx", None), ("a.pdf", "text/plain"), ("noext", None)],
)
def test_other_types_are_refused(name, content_type):
    with pytest.raises(TransferDataError) as raised:
        validate_attachment(name, content_type, 10)
    assert raised.value.code == "BAD_ATTACHMENT" and raised.value.field == "file" and raised.value.value == name
    assert "GIF, JPEG or PDF" in raised.value.solution
