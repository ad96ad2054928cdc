"""``streams.mapping.__all__`` is the public surface (as httpx's tests/test_exported_members.py pins its own)."""

from __future__ import annotations

import inspect

import streams.mapping as mapping

# The surface on purpose: a name added or dropped here is a change callers see.
PUBLIC = [
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


def test_all_is_exactly_the_public_names():
    # Every name the package binds that is not private and not a submodule is in __all__, and only those.
    public = sorted(
        name for name, value in vars(mapping).items() if not name.startswith("_") and not inspect.ismodule(value)
    )
    assert sorted(mapping.__all__) == public
    assert sorted(mapping.__all__) == sorted(PUBLIC)


def test_each_exported_name_is_importable():
    for name in mapping.__all__:
        namespace: dict[str, object] = {}
        exec(f"from streams.mapping import {name}", namespace)  # the form callers write
        assert namespace[name] is getattr(mapping, name)
