"""Compare the contract with the full public references (``../shared/reference/`` beside the repository).

Severa: every operation and model the contract takes from the derived index of Severa's OpenAPI document.
Procountor: every operation and model taken from the S1 OpenAPI copy (``procountor/procountor-api.yaml``);
for the operations the contract takes from S2 (not kept in the references) the notes
(``procountor-api.md``) must at least name the operation. A difference is one line naming the operation,
model, field or enum; the contract's ``deviations`` (with their reasons) are not differences.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .model import Contract, load
from .usage import ROOT

REFERENCE = ROOT.parent / "shared" / "reference"


def _norm(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def _deviations(system: str) -> dict[str, str]:
    import yaml

    doc = yaml.safe_load((Path(__file__).parent / f"{system}.yaml").read_text())
    return dict(doc.get("deviations") or {})


# ------------------------------------------------------------------------------------------------ Severa


def _severa_type(typ: str, fmt: str | None, models: dict[str, Any]) -> str:
    nullable = typ.endswith(" | null")
    base = typ.replace(" | null", "").strip()
    array = base.endswith("[]")
    base = base[:-2].strip("()") if array else base
    if base == "number" and fmt in ("int32", "int64", "uint64"):
        base = "integer"
    elif base == "string" and fmt in ("date", "date-time"):
        base = fmt
    return base + ("[]" if array else "") + ("?" if nullable else "")


def severa_differences(contract: Contract, reference: Path = REFERENCE) -> list[str]:
    index = json.loads((reference / "severa" / "severa-api-surface.derived.json").read_text())
    models = index["models"]
    endpoints = {(e["method"], _norm(e["path"])): e for e in index["endpoints"]}
    skip = _deviations("severa")
    out: list[str] = []
    for key, op in contract.operations.items():
        endpoint = endpoints.get((op.method, _norm(op.path)))
        if endpoint is None:
            out.append(f"operation {key}: not in the index")
            continue
        theirs = {}
        for param in endpoint["query"]:
            fmt = re.search(r"@format (\S+)", param.get("doc", ""))
            theirs[param["name"]] = _severa_type(param["type"], fmt.group(1) if fmt else None, models)
        out += _compare_maps(f"operation {key} query", op.query, theirs, skip, f"operations.{key}.query")
        body = endpoint.get("requestBody")
        their_body = _severa_type(body["type"], None, models) if body else None
        if op.body != their_body:
            out.append(f"operation {key} body: contract {op.body}, index {their_body}")
        ok = [r for r in endpoint["responses"] if r["status"].startswith("2")]
        if ok:
            their_status, their_type = int(ok[0]["status"]), _severa_type(ok[0]["type"], None, models)
            if (op.response_status, op.response_type) != (their_status, their_type):
                out.append(f"operation {key} response: contract {op.response_status} {op.response_type}, "
                           f"index {their_status} {their_type}")
    for name, model in contract.models.items():
        theirs_model = models.get(name)
        if theirs_model is None or theirs_model["kind"] != "interface":
            out.append(f"model {name}: not in the index")
            continue
        their_fields = {f["name"]: _severa_type(f["type"], f.get("format"), models) for f in theirs_model["fields"]}
        out += _compare_maps(f"model {name}", model.get("fields") or {}, their_fields, skip, f"models.{name}.fields")
        their_required = sorted(f["name"] for f in theirs_model["fields"] if f.get("required"))
        if sorted(model.get("required") or []) != their_required:
            out.append(f"model {name} required: contract {sorted(model.get('required') or [])}, index {their_required}")
    for name, values in contract.enums.items():
        theirs_enum = models.get(name)
        if theirs_enum is None or theirs_enum["kind"] != "enum":
            out.append(f"enum {name}: not in the index")
        elif sorted(values) != sorted(theirs_enum["values"]):
            out.append(f"enum {name}: contract {sorted(values)}, index {sorted(theirs_enum['values'])}")
    return out


# -------------------------------------------------------------------------------------------- Procountor


class _S1:
    """Types of the S1 OpenAPI copy, written the contract's way (enums compared by their values)."""

    def __init__(self, reference: Path, contract: Contract) -> None:
        import yaml

        self.doc = yaml.safe_load((reference / "procountor" / "procountor-api.yaml").read_text())
        self.schemas = self.doc["components"]["schemas"]
        self.contract = contract

    def same(self, ours: str, schema: dict[str, Any]) -> bool:
        """Does the contract's type ``ours`` say what S1's ``schema`` says?"""
        if "$ref" in schema:
            return ours.rstrip("?") == schema["$ref"].split("/")[-1]
        nullable = bool(schema.get("nullable"))
        if ours.endswith("?") != nullable:
            return False
        ours = ours.rstrip("?")
        if "enum" in schema:
            return sorted(self.contract.enums.get(ours, [])) == sorted(str(v) for v in schema["enum"])
        kind = schema.get("type")
        if kind == "array":
            return ours.endswith("[]") and self.same(ours[:-2], schema["items"])
        if kind == "string":
            fmt = schema.get("format")
            return ours == (fmt if fmt in ("date", "date-time", "binary") else "string")
        if kind in ("integer", "number", "boolean"):
            return ours == kind
        if kind == "object" or isinstance(kind, dict):
            return ours in ("object", "string")
        return ours == "any"

    def operation(self, method: str, path: str) -> dict[str, Any] | None:
        for their_path, item in self.doc["paths"].items():
            if _norm(their_path) == _norm(path) and method.lower() in item and their_path != "/products/{group}":
                return dict(item[method.lower()])
        return None

    def parameter(self, param: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in param:
            return dict(self.doc["components"]["parameters"][param["$ref"].split("/")[-1]])
        return param


def procountor_differences(contract: Contract, reference: Path = REFERENCE) -> list[str]:
    s1 = _S1(reference, contract)
    notes = (reference / "procountor-api.md").read_text()
    mentions = re.finditer(r"(GET|POST|PUT|PATCH|DELETE) (/[^`\s?|]*)", notes)
    named = {(m.group(1), _norm(m.group(2).rstrip("/"))) for m in mentions}
    skip = _deviations("procountor")
    out: list[str] = []
    for key, op in contract.operations.items():
        if f"operations.{key}" in skip:
            continue
        if not op.source.startswith("S1 "):
            if (op.method, _norm(op.path)) not in named:
                out.append(f"operation {key}: the notes (procountor-api.md) do not name it")
            continue
        theirs = s1.operation(op.method, op.path)
        if theirs is None:
            out.append(f"operation {key}: not in S1")
            continue
        params = [s1.parameter(p) for p in theirs.get("parameters", [])]
        query = {p["name"]: p["schema"] for p in params if p["in"] == "query"}
        for name in sorted(set(op.query) | set(query)):
            if name not in query:
                out.append(f"operation {key} query {name}: not in S1")
            elif name not in op.query:
                out.append(f"operation {key} query {name}: in S1, not in the contract")
            elif not s1.same(op.query[name], query[name]):
                out.append(f"operation {key} query {name}: contract {op.query[name]}, S1 {query[name]}")
        body = (theirs.get("requestBody") or {}).get("content") or {}
        if "application/json" in body and not (op.body and s1.same(op.body, body["application/json"]["schema"])):
            out.append(f"operation {key} body: contract {op.body}, S1 {body['application/json']['schema']}")
        if "multipart/form-data" in body:
            parts = body["multipart/form-data"]["schema"]["properties"]
            if set(parts) != set(op.multipart or {}):
                out.append(f"operation {key} multipart: contract {sorted(op.multipart or {})}, S1 {sorted(parts)}")
        ok = next(((int(s), r) for s, r in theirs["responses"].items() if str(s).startswith("2")), None)
        if ok:
            status, response = ok
            schema = ((response.get("content") or {}).get("application/json") or {}).get("schema")
            if status != op.response_status or (schema is not None and not s1.same(op.response_type or "", schema)):
                out.append(f"operation {key} response: contract {op.response_status} {op.response_type}, "
                           f"S1 {status} {schema}")
    for name, model in contract.models.items():
        if not model["source"].startswith("S1 "):
            continue
        schema = s1.schemas.get(name)
        if schema is None:
            out.append(f"model {name}: not in S1")
            continue
        ours = model.get("fields") or {}
        props = schema.get("properties") or {}
        for field in sorted(set(ours) | set(props)):
            at = f"models.{name}.fields.{field}"
            if at in skip:
                continue
            if field not in props:
                out.append(f"model {name} field {field}: not in S1")
            elif field not in ours:
                out.append(f"model {name} field {field}: in S1, not in the contract")
            elif not s1.same(ours[field], props[field]):
                out.append(f"model {name} field {field}: contract {ours[field]}, S1 {props[field]}")
        if sorted(model.get("required") or []) != sorted(schema.get("required") or []):
            out.append(f"model {name} required: contract {sorted(model.get('required') or [])}, "
                       f"S1 {sorted(schema.get('required') or [])}")
    return out


def _compare_maps(what: str, ours: dict[str, str], theirs: dict[str, str], skip: dict[str, str],
                  at: str) -> list[str]:
    out = []
    for name in sorted(set(ours) | set(theirs)):
        if f"{at}.{name}" in skip:
            continue
        if name not in theirs:
            out.append(f"{what} {name}: not in the reference")
        elif name not in ours:
            out.append(f"{what} {name}: in the reference, not in the contract")
        elif ours[name] != theirs[name]:
            out.append(f"{what} {name}: contract {ours[name]}, reference {theirs[name]}")
    return out


def differences(system: str, reference: Path = REFERENCE) -> list[str]:
    """Every operation, field or enum where the contract and the reference differ (deviations excepted)."""
    contract = load(system)
    compare = severa_differences if system == "severa" else procountor_differences
    return compare(contract, reference)


def stale_deviations(system: str, reference: Path = REFERENCE) -> list[str]:
    """Deviations that no longer depart from the reference (remove them)."""
    out = []
    contract = load(system)
    for at in _deviations(system):
        parts = at.split(".")
        if parts[0] == "operations" and at.split(".", 1)[1] not in contract.operations:
            out.append(f"{at}: not in the contract")
        if parts[0] == "models" and len(parts) == 4:
            if parts[1] not in contract.models or parts[3] not in contract.models[parts[1]].get("fields", {}):
                out.append(f"{at}: not in the contract")
    return out
