"""Pure mapping from Severa's models to Procountor's (no I/O): sales invoices, attachments, errors."""

from streams.mapping.attachments import choose_attachment, validate_attachment
from streams.mapping.dimensions import row_dimensions
from streams.mapping.errors import SOLUTIONS, TransferDataError, classify_procountor_error
from streams.mapping.products import customer_to_business_partner, missing_products, product_to_procountor
from streams.mapping.sales_invoice import map_sales_invoice, validate_sales_invoice

__all__ = [
    "SOLUTIONS",
    "TransferDataError",
    "choose_attachment",
    "classify_procountor_error",
    "customer_to_business_partner",
    "map_sales_invoice",
    "missing_products",
    "product_to_procountor",
    "row_dimensions",
    "validate_attachment",
    "validate_sales_invoice",
]
