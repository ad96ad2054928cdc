"""Check one HTTP exchange (a request and its answer) against the contract.

A request finding becomes a violation only when the sandbox accepted the request (2xx): a request the public
description does not allow, answered with success, is the shared mistake this check exists for; a refused
one fails its own test anyway (and negative tests send such requests on purpose). Every 2xx answer is
checked against the operation's response type; a 400, 403 or 409 answer against the API's error model.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from .model import SYSTEMS, Contract, Finding, Operation, load

_PROCOUNTOR_BASE = re.compile(r"^/(?:latest/|supported/|v\d{4}/)?api(/.*)$")
NO_BODY = {None, "void", "File", "binary", "none"}
CHECKED_ERRORS = {400, 403, 409}


@dataclass(frozen=True)
class Violation:
    """A disagreement with the public description, naming the operation and the field."""

    system: str
    operation: str
    side: str  # "request" or "answer"
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.system} {self.operation} {self.side}: {self.field}: {self.message}"


@dataclass
class Exchange:
    method: str
    path: str
    query: str = ""
    request_headers: dict[str, str] = field(default_factory=dict)
    request_body: bytes = b""
    status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""


@dataclass
class Outcome:
    system: str
    operation: Operation | None
    path: str
    violations: list[Violation]


def locate(path: str) -> tuple[str, str] | None:
    """(system, path below the API base) for an API path of either sandbox; None for anything else."""
    severa = load("severa").base_path
    if path.startswith(severa + "/"):
        return "severa", path[len(severa) :]
    match = _PROCOUNTOR_BASE.match(path)
    if match:
        return "procountor", match.group(1)
    return None


def check_exchange(exchange: Exchange) -> Outcome | None:
    """The operation and the violations of one exchange; None when the path is not an API path."""
    located = locate(exchange.path)
    if located is None:
        return None
    system, path = located
    contract = load(system)
    operation = contract.match(exchange.method, path)
    if operation is None:
        return Outcome(system, None, path, [])
    violations = []
    if 200 <= exchange.status < 300:
        violations += [_violation(operation, "request", f) for f in request_findings(contract, operation, exchange)]
    violations += [_violation(operation, "answer", f) for f in answer_findings(contract, operation, exchange)]
    return Outcome(system, operation, path, violations)


def _violation(operation: Operation, side: str, finding: Finding) -> Violation:
    return Violation(operation.system, operation.key, side, finding.field, finding.message)


def _content_type(headers: dict[str, str]) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


def request_findings(contract: Contract, operation: Operation, exchange: Exchange) -> list[Finding]:
    out = _query_findings(contract, operation, exchange.query)
    body = exchange.request_body
    kind = _content_type(exchange.request_headers)
    if operation.multipart is not None:
        out += _multipart_findings(contract, operation, exchange)
    elif operation.form is not None:
        values = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        out += _text_model_findings(contract, operation.form, values)
    elif operation.body is not None:
        if body:
            try:
                document = json.loads(body)
            except ValueError:
                return out + [Finding("(body)", f"not JSON ({kind or 'no content type'})")]
            out += contract.check(operation.body, document)
    elif body.strip() and body.strip() not in (b"{}", b"null"):
        out.append(Finding("(body)", "the operation takes no request body"))
    return out


def _query_findings(contract: Contract, operation: Operation, query: str) -> list[Finding]:
    out: list[Finding] = []
    seen: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        seen.setdefault(name, []).append(value)
    for name, values in seen.items():
        type_ = operation.query.get(name)
        where = f"query {name}"
        if type_ is None:
            out.append(Finding(where, f"not a parameter of {operation.key}"))
            continue
        base = type_.rstrip("?")
        if base.endswith("[]"):
            items = values if contract.query_lists == "repeat" else [p for v in values for p in v.split(",")]
            for item in items:
                out += contract.check_text(base[:-2], item, where)
        else:
            if len(values) > 1:
                out.append(Finding(where, f"given {len(values)} times; it takes one value"))
            elif contract.query_lists == "comma" and "," in values[0] and base in contract.enums:
                out.append(Finding(where, f"{values[0]!r} is a list; {name} takes one {base}"))
                continue
            out += contract.check_text(base, values[0], where)
    return out


def _text_model_findings(contract: Contract, model_name: str, values: dict[str, str]) -> list[Finding]:
    model = contract.models[model_name]
    fields = model.get("fields") or {}
    out = []
    for key, value in values.items():
        if key not in fields:
            out.append(Finding(key, f"{model_name} has no field {key!r}"))
        else:
            out += contract.check_text(fields[key], value, key)
    out += [Finding(key, f"{model_name} requires {key!r}") for key in model.get("required") or [] if key not in values]
    return out


def _multipart_findings(contract: Contract, operation: Operation, exchange: Exchange) -> list[Finding]:
    header = exchange.request_headers.get("content-type", "")
    if not header.lower().startswith("multipart/"):
        return [Finding("(body)", f"expected multipart/form-data, got {header or 'no content type'!r}")]
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + header.encode() + b"\r\n\r\n" + exchange.request_body
    )
    parts: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str):
            parts[name] = payload if isinstance(payload, bytes) else b""
    spec = operation.multipart or {}
    out = [Finding(name, "multipart part missing") for name in spec if name not in parts]
    for name, payload in parts.items():
        type_ = spec.get(name)
        if type_ is None:
            out.append(Finding(name, f"{operation.key} takes no part {name!r}"))
        elif type_.rstrip("?") not in ("binary", "string"):
            try:
                document = json.loads(payload)
            except ValueError:
                out.append(Finding(name, "the part is not JSON"))
                continue
            out += contract.check(type_, document, name)
    return out


def answer_findings(contract: Contract, operation: Operation, exchange: Exchange) -> list[Finding]:
    status = exchange.status
    if 200 <= status < 300:
        out = []
        if operation.response_status and status != operation.response_status:
            out.append(Finding("(status)", f"answered {status}; the description says {operation.response_status}"))
        type_ = operation.response_type
        if type_ in NO_BODY:
            return out
        assert type_ is not None
        try:
            document = json.loads(exchange.response_body)
        except ValueError:
            return out + [Finding("(body)", f"not JSON ({_content_type(exchange.response_headers) or 'no type'})")]
        if operation.batch and isinstance(document, list):
            type_ = type_.rstrip("?") + "[]"
        return out + contract.check(type_, document)
    if status in CHECKED_ERRORS and contract.error:
        try:
            document = json.loads(exchange.response_body)
        except ValueError:
            return [Finding("(error body)", f"a {status} answer that is not JSON; the API answers {contract.error}")]
        return [Finding(f"(error body) {f.field}", f.message) for f in contract.check(contract.error, document)]
    return []


__all__ = ["SYSTEMS", "Exchange", "Outcome", "Violation", "check_exchange", "locate"]
