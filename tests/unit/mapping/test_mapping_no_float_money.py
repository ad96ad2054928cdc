"""No binary floating point on money in streams/mapping: a scan of every module's syntax tree.

Money is ``Decimal`` from Severa's JSON to Procountor's body (foundation.exact_json). A ``float(...)`` call, or
a float literal in arithmetic or as an ``or`` default (``amount or 0.0``), is where an amount would silently
become binary; the mapping has no other use for floats, so each is an offence.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

MAPPING = Path(__file__).resolve().parents[3] / "streams" / "mapping"


def float_offences(source: str, name: str = "<source>") -> list[str]:
    offences = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float":
            offences.append(f"{name}:{node.lineno}: float(...) call")
        operands: list[ast.expr] = []
        if isinstance(node, ast.BinOp):
            operands = [node.left, node.right]
        elif isinstance(node, ast.AugAssign):
            operands = [node.value]
        elif isinstance(node, ast.BoolOp):
            operands = node.values
        for operand in operands:
            if isinstance(operand, ast.UnaryOp):
                operand = operand.operand
            if isinstance(operand, ast.Constant) and isinstance(operand.value, float):
                offences.append(f"{name}:{operand.lineno}: float literal {operand.value!r} in arithmetic")
    return offences


@pytest.mark.parametrize("module", sorted(p.name for p in MAPPING.glob("*.py")))
def test_mapping_module_has_no_float_arithmetic(module):
    path = MAPPING / module
    assert float_offences(path.read_text(), module) == []


@pytest.mark.parametrize(
    "planted",
    [
        "unit_price = float(row['unitPrice']['amount'])",
        "total = quantity * 1.0",
        "net = -0.5 + amount",
        "total += 0.01",
        "penalty = invoice.overdueInterest or 0.0",
    ],
)
def test_the_scan_finds_a_planted_float(planted):
    assert len(float_offences(planted)) == 1


def test_the_scan_leaves_decimals_and_tables_alone():
    assert float_offences("from decimal import Decimal\nrates = (24.0, 25.5)\nx = Decimal('0.1') * 3\n") == []
