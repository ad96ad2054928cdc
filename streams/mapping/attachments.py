"""Which invoice PDF to attach, and the pre-validation of attachment files (seed: "Invoice attachments").

Severa's ``GET /v1/invoices/{guid}/pdf?pdfGetOptions=`` gives ``All`` (invoice pages, breakdown and
attachments: the seed's "PDF file") or ``AttachmentAndBreakdown`` (the seed's "Invoice breakdown", without
the image of Severa's invoice). Procountor accepts attachments up to 10 000 000 bytes; the seed restricts
sales and travel attachments to GIF, JPEG and PDF with no special characters in the file name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from foundation.company import AttachmentMode, CompanySettings, SalesInvoiceSettings
from streams.mapping.errors import TransferDataError

PdfOption = Literal["All", "AttachmentAndBreakdown"]

MAX_ATTACHMENT_BYTES = 10_000_000

# content type → the extensions Procountor derives it from (it determines the MIME type from the name).
_TYPES: dict[str, tuple[str, ...]] = {
    "application/pdf": (".pdf",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/gif": (".gif",),
}
_EXTENSION_TYPE = {ext: content_type for content_type, exts in _TYPES.items() for ext in exts}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _row_grouping(invoice_settings: Mapping[str, Any]) -> bool:
    # Grouping is per invoice in Severa (InvoiceSettingsOutputModel.*Grouping: OneByOne | Group |
    # Group+Attachment); any kind of row grouped counts as "line item grouping is enabled".
    keys = ("workHourGrouping", "projectFeeGrouping", "projectTravelExpenseGrouping")
    return any(str(invoice_settings.get(key) or "OneByOne") != "OneByOne" for key in keys)


def needs_invoice_details(settings: CompanySettings | SalesInvoiceSettings) -> bool:
    """Whether `choose_attachment` needs the invoice's files and invoice settings (read only then)."""
    sales = settings.sales_invoices if isinstance(settings, CompanySettings) else settings
    return sales.attachments == AttachmentMode.NONE


def choose_attachment(
    settings: CompanySettings | SalesInvoiceSettings,
    files: Sequence[Mapping[str, Any]] | None = None,
    invoice_settings: Mapping[str, Any] | None = None,
) -> PdfOption | None:
    """The ``pdfGetOptions`` to fetch and attach for this invoice, or None to attach nothing.

    pdf → ``All``; breakdown → ``AttachmentAndBreakdown``; none → ``AttachmentAndBreakdown`` only when the
    invoice has attachments and row grouping is on (seed), else None. ``files`` is the answer of
    ``GET /v1/invoices/{invoiceGuid}/files`` (InvoiceFileModel[]; internal files do not count) and
    ``invoice_settings`` that of ``GET /v1/invoices/{invoiceGuid}/invoicesettings``: Severa's invoice model
    itself has neither (it has no ``files`` or ``invoiceSettings`` field).
    """
    sales = settings.sales_invoices if isinstance(settings, CompanySettings) else settings
    if sales.attachments == AttachmentMode.PDF:
        return "All"
    if sales.attachments == AttachmentMode.BREAKDOWN:
        return "AttachmentAndBreakdown"
    attached = any(not f.get("isInternal") for f in files or [] if isinstance(f, Mapping))
    if attached and _row_grouping(invoice_settings or {}):
        return "AttachmentAndBreakdown"
    return None


def clean_filename(filename: str) -> str:
    """The file name without special characters: accents folded (ä → a), others become ``_``."""
    folded = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    cleaned = _UNSAFE.sub("_", folded.replace(" ", "_")).strip("._")
    return re.sub(r"_+", "_", cleaned)


def attachment_too_large(filename: str, size: int, *, exact: bool, record: str = "attachment") -> TransferDataError:
    """BAD_ATTACHMENT for a file whose download was stopped at the limit (`exact` False: at least `size` bytes)."""
    told = f"{size} bytes" if exact else f"more than {MAX_ATTACHMENT_BYTES} bytes"
    return TransferDataError(
        "BAD_ATTACHMENT", record=record, field="file", value=filename,
        message=f"BAD_ATTACHMENT (file): {filename!r} is {told}; 1…{MAX_ATTACHMENT_BYTES} allowed",
    )  # fmt: skip


def validate_attachment(filename: str, content_type: str | None, size: int, *, record: str = "attachment") -> str:
    """The file name to upload, cleaned; raises BAD_ATTACHMENT for a wrong type, an empty or a too big file.

    The type is the content type when given, else the extension; the returned name carries an extension
    matching the type, because Procountor derives the MIME type from the name.
    """
    base_type = (content_type or "").split(";")[0].strip().lower()
    if base_type == "image/jpg":  # a common misspelling of the JPEG type
        base_type = "image/jpeg"
    name = (filename or "").strip()
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    extension = f".{clean_filename(extension).lower()}" if extension else ""
    if not base_type or base_type == "application/octet-stream":
        base_type = _EXTENSION_TYPE.get(extension, base_type)
    if base_type not in _TYPES:
        raise TransferDataError(
            "BAD_ATTACHMENT", record=record, field="file", value=filename,
            message=f"BAD_ATTACHMENT (file): {filename!r} is {base_type or 'of unknown type'}; "
            "only GIF, JPEG and PDF are allowed",
        )  # fmt: skip
    if size <= 0 or size > MAX_ATTACHMENT_BYTES:
        raise TransferDataError(
            "BAD_ATTACHMENT", record=record, field="file", value=filename,
            message=f"BAD_ATTACHMENT (file): {filename!r} is {size} bytes; 1…{MAX_ATTACHMENT_BYTES} allowed",
        )  # fmt: skip
    if extension not in _TYPES[base_type]:
        # Keep what the user called it, and add the extension the content really has.
        stem = f"{stem}{extension}" if extension else stem
        extension = _TYPES[base_type][0]
    return f"{clean_filename(stem) or 'attachment'}{extension}"
