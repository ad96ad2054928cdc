"""Load a contract file and check values against its types.

A type is written as in the YAML files: ``string``, ``integer``, ``number``, ``boolean``, ``date``,
``date-time``, ``binary``, ``object``, ``any``, a model or an enum name; ``T[]`` is a list of T and a trailing
``?`` allows null. Field paths in findings use ``[]`` for list items (``results[].invoicingInfo``), so that the
same mistake on two records is one finding.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SYSTEMS = ("severa", "procountor")
PRIMITIVES = {"string", "integer", "number", "boolean", "date", "date-time", "binary", "object", "any"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Finding:
    """One disagreement with the contract: where (a field path) and what."""

    field: str
    message: str


@dataclass(frozen=True)
class Operation:
    system: str
    method: str
    path: str
    source: str
    query: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    form: str | None = None
    multipart: dict[str, str] | None = None
    response_status: int | None = None
    response_type: str | None = None
    batch: bool = False

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @functools.cached_property
    def pattern(self) -> re.Pattern[str]:
        parts = [("[^/]+" if part.startswith("{") else re.escape(part)) for part in self.path.split("/")]
        return re.compile("^" + "/".join(parts) + "/?$")

    @property
    def literal_segments(self) -> int:
        return sum(1 for part in self.path.split("/") if part and not part.startswith("{"))


@dataclass
class Contract:
    system: str
    base_path: str
    query_lists: str  # "repeat" (?a=1&a=2) or "comma" (?a=1,2)
    error: str | None
    null_always_allowed: bool
    case_insensitive_enums: frozenset[str]
    case_insensitive_models: frozenset[str]
    operations: dict[str, Operation]
    models: dict[str, dict[str, Any]]
    enums: dict[str, list[str]]

    def match(self, method: str, path: str) -> Operation | None:
        """The operation for a request path below the base path (most literal segments win)."""
        found = [op for op in self.operations.values() if op.method == method and op.pattern.match(path)]
        return max(found, key=lambda op: op.literal_segments) if found else None

    # ------------------------------------------------------------------ values

    def check(self, type_: str, value: Any, where: str = "") -> list[Finding]:
        """Findings for ``value`` against ``type_`` (empty when it agrees)."""
        nullable = type_.endswith("?")
        base = type_[:-1] if nullable else type_
        if value is None:
            if nullable or self.null_always_allowed or base == "any":
                return []
            return [Finding(where or "(body)", f"null where the contract says {base}")]
        if base.endswith("[]"):
            if not isinstance(value, list):
                return [Finding(where or "(body)", f"expected a list of {base[:-2]}, got {_kind(value)}")]
            out: list[Finding] = []
            for item in value:
                out += self.check(base[:-2], item, f"{where}[]")
            return _unique(out)
        if base in PRIMITIVES:
            return self._primitive(base, value, where)
        if base in self.enums:
            return self._enum(base, value, where)
        if base in self.models:
            return self._model(base, value, where)
        return [Finding(where or "(body)", f"the contract has no type {base!r}")]

    def _primitive(self, base: str, value: Any, where: str) -> list[Finding]:
        ok = {
            "string": isinstance(value, str),
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, int | float) and not isinstance(value, bool),
            "boolean": isinstance(value, bool),
            "date": isinstance(value, str) and bool(_DATE.match(value)),
            "date-time": isinstance(value, str) and _is_datetime(value),
            "object": isinstance(value, dict),
        }.get(base, True)
        return [] if ok else [Finding(where or "(body)", f"expected {base}, got {_show(value)}")]

    def _enum(self, name: str, value: Any, where: str) -> list[Finding]:
        values = self.enums[name]
        if isinstance(value, str):
            if value in values:
                return []
            if name in self.case_insensitive_enums and value.lower() in {v.lower() for v in values}:
                return []
        return [Finding(where or "(body)", f"{_show(value)} is not one of {name} {_short(values)}")]

    def _model(self, name: str, value: Any, where: str) -> list[Finding]:
        if not isinstance(value, dict):
            return [Finding(where or "(body)", f"expected {name} (an object), got {_kind(value)}")]
        model = self.models[name]
        fields: dict[str, str] = model.get("fields") or {}
        prefix = f"{where}." if where else ""
        folded = name in self.case_insensitive_models
        spelled = {k.lower(): k for k in fields} if folded else {k: k for k in fields}
        out: list[Finding] = []
        given = set()
        for key, item in value.items():
            field = spelled.get(key.lower() if folded else key)
            if field is None:
                out.append(Finding(prefix + key, f"{name} has no field {key!r}"))
            else:
                given.add(field)
                out += self.check(fields[field], item, prefix + key)
        for key in model.get("required") or []:
            if key not in given:
                out.append(Finding(prefix + key, f"{name} requires {key!r}"))
        return out

    def check_text(self, type_: str, text: str, where: str) -> list[Finding]:
        """A query, form or header value (always text) against a scalar or enum type."""
        base = type_.rstrip("?")
        if base in self.enums:
            return self._enum(base, text, where)
        parsers = {
            "integer": lambda t: int(t),
            "number": lambda t: float(t),
            "boolean": lambda t: {"true": True, "false": False}[t.lower()],
        }
        if base in parsers:
            try:
                parsers[base](text)
            except (ValueError, KeyError):
                return [Finding(where, f"expected {base}, got {text!r}")]
            return []
        if base in ("date", "date-time"):
            return self._primitive(base, text, where)
        return []


def _is_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        try:
            date.fromisoformat(text)  # a date where a date-time is expected is still a point in time
        except ValueError:
            return False
    return True


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return names.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _short(values: list[str]) -> str:
    return str(values) if len(values) <= 8 else str(values[:8])[:-1] + ", ...]"


def _unique(findings: list[Finding]) -> list[Finding]:
    return list(dict.fromkeys(findings))


@functools.cache
def load(system: str, directory: Path = HERE) -> Contract:
    """The contract of ``system`` ("severa" or "procountor") from ``contract/<system>.yaml``."""
    import yaml  # a dev dependency: only the tests and ``sevpro contract`` load contracts

    doc = yaml.safe_load((directory / f"{system}.yaml").read_text())
    operations = {}
    for key, spec in doc["operations"].items():
        method, path = key.split(" ", 1)
        response = spec.get("response") or {}
        operations[key] = Operation(
            system=system,
            method=method,
            path=path,
            source=spec["source"],
            query=dict(spec.get("query") or {}),
            body=spec.get("body"),
            form=spec.get("form"),
            multipart=spec.get("multipart"),
            response_status=response.get("status"),
            response_type=response.get("type"),
            batch=bool(spec.get("batch")),
        )
    return Contract(
        system=system,
        base_path=doc["base_path"],
        query_lists=doc["query_lists"],
        error=doc.get("error"),
        null_always_allowed=bool(doc.get("null_always_allowed")),
        case_insensitive_enums=frozenset(doc.get("case_insensitive_enums") or []),
        case_insensitive_models=frozenset(doc.get("case_insensitive_models") or []),
        operations=operations,
        models=doc["models"],
        enums={name: [str(v) for v in values] for name, values in doc["enums"].items()},
    )
