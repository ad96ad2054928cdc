"""HTTP helpers shared by the Severa sandbox routes: error bodies, query parsing, paging, JSON Patch."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.severa.store import Record, SeveraStore, ValidationProblem

Predicate = Callable[[Record], bool]


class ApiError(Exception):
    """Anything that becomes a non-2xx answer."""

    def __init__(
        self,
        status: int,
        type_: str | None = None,
        message: str = "",
        *,
        name: str | None = None,
        location: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.type, self.message, self.name, self.location = (
            status,
            type_,
            message,
            name,
            location,
        )

    def response(self) -> Response:
        if self.type is None:
            # Severa declares 404 "Resource not found" without a body schema: answer with an empty body.
            return Response(status_code=self.status)
        return exception_model(self.status, self.type, self.message, name=self.name, location=self.location)


def exception_model(
    status: int, type_: str, message: str, *, name: str | None = None, location: str | None = None
) -> JSONResponse:
    """Severa's ``ExceptionModel``: ``{"error": {httpStatusCode, type, details[], stack}}``."""
    detail: Record = {
        "message": message,
        "url": None,
        "location": {"type": location, "name": name, "identifier": None} if location else None,
    }
    return JSONResponse(
        {"error": {"httpStatusCode": status, "type": type_, "details": [detail], "stack": None}},
        status_code=status,
    )


def not_found() -> ApiError:
    return ApiError(404)


def from_validation(problem: ValidationProblem) -> ApiError:
    return ApiError(400, problem.type, problem.message, name=problem.name, location=problem.location)


def parse_datetime(value: str, name: str) -> dt.datetime:
    """A .NET DateTimeOffset-ish query value; naive values are taken as UTC."""
    text = value.strip().replace(" ", "+")  # an unencoded '+' arrives as a space
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise ApiError(
            400,
            "InvalidParameter",
            f"The value '{value}' is not valid for {name}.",
            name=name,
            location="UriParameter",
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def record_time(record: Record) -> dt.datetime:
    return dt.datetime.fromisoformat(record.get("lastUpdatedDateTime") or record["createdDateTime"])


@dataclass
class Ctx:
    """One request as the route handlers see it."""

    request: Request
    store: SeveraStore
    max_row_count: int
    body_cache: Any = field(default=None)

    @property
    def params(self) -> dict[str, str]:
        return dict(self.request.path_params)

    def q(self, name: str) -> str | None:
        # Query parameter names are case-insensitive in ASP.NET model binding.
        for key, value in self.request.query_params.multi_items():
            if key.lower() == name.lower():
                return value
        return None

    def q_list(self, name: str) -> list[str]:
        return [v for k, v in self.request.query_params.multi_items() if k.lower() == name.lower() and v != ""]

    def q_bool(self, name: str) -> bool | None:
        value = self.q(name)
        if value is None or value == "":
            return None
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ApiError(
            400,
            "InvalidParameter",
            f"The value '{value}' is not valid for {name}.",
            name=name,
            location="UriParameter",
        )

    def q_int(self, name: str) -> int | None:
        value = self.q(name)
        if value is None or value == "":
            return None
        try:
            return int(value)
        except ValueError as exc:
            raise ApiError(
                400,
                "InvalidParameter",
                f"The value '{value}' is not valid for {name}.",
                name=name,
                location="UriParameter",
            ) from exc

    def q_datetime(self, name: str) -> dt.datetime | None:
        value = self.q(name)
        return None if value in (None, "") else parse_datetime(value, name)

    async def json(self) -> Any:
        if self.body_cache is None:
            raw = await self.request.body()
            if not raw.strip():
                raise ApiError(400, "InvalidRequest", "The request body is required.", location="RequestBody")
            try:
                self.body_cache = json.loads(raw)
            except ValueError as exc:
                raise ApiError(
                    400, "InvalidRequest", "The request body is not valid JSON.", location="RequestBody"
                ) from exc
        return self.body_cache

    async def json_object(self) -> Record:
        body = await self.json()
        if not isinstance(body, dict):
            raise ApiError(400, "InvalidRequest", "The request body must be a JSON object.", location="RequestBody")
        return body


def common_filters(ctx: Ctx, *, changed_since: bool = True) -> list[Predicate]:
    preds: list[Predicate] = []
    if changed_since:
        since = ctx.q_datetime("changedSince")
        if since is not None:
            # "added or changed after this date time (greater or equal)"
            threshold: dt.datetime = since
            preds.append(lambda r: record_time(r) >= threshold)
    return preds


def _row_count(ctx: Ctx, default: int | None) -> int | None:
    count = ctx.q_int("rowCount")
    if count is None:
        return default
    if count < 1:
        raise ApiError(
            400,
            "InvalidParameter",
            "rowCount must be greater than zero.",
            name="rowCount",
            location="UriParameter",
        )
    return min(count, ctx.max_row_count)


def token_page(ctx: Ctx, records: Iterable[Record], preds: list[Predicate]) -> Response:
    """Token paging: ``rowCount`` (default 20) + opaque ``pageToken``; ``NextPageToken`` header if more."""
    rows = [r for r in records if all(p(r) for p in preds)]
    size = _row_count(ctx, 20) or 20
    offset = 0
    token = ctx.q("pageToken")
    if token:
        try:
            offset = int(json.loads(base64.urlsafe_b64decode(token.encode()))["o"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ApiError(
                400,
                "InvalidParameter",
                "The page token is not valid.",
                name="pageToken",
                location="UriParameter",
            ) from exc
    page = rows[offset : offset + size]
    headers = {}
    if offset + size < len(rows):
        headers["NextPageToken"] = base64.urlsafe_b64encode(json.dumps({"o": offset + size}).encode()).decode()
    return JSONResponse(page, headers=headers)


def offset_page(
    ctx: Ctx, records: Iterable[Record], preds: list[Predicate], *, default_count: int | None = 20
) -> Response:
    """Offset paging: ``firstRow`` + ``rowCount``; ``textToSearch`` and ``active`` filter when present."""
    text = (ctx.q("textToSearch") or "").lower()
    active = ctx.q_bool("active")
    rows = [r for r in records if all(p(r) for p in preds)]
    if text:
        rows = [
            r
            for r in rows
            if any(text in str(r.get(k) or "").lower() for k in ("name", "code", "identifier", "number", "bankName"))
        ]
    if active is not None:
        rows = [r for r in rows if bool(r.get("isActive", True)) == active]
    first = ctx.q_int("firstRow") or 0
    if first < 0:
        raise ApiError(
            400,
            "InvalidParameter",
            "firstRow must not be negative.",
            name="firstRow",
            location="UriParameter",
        )
    count = _row_count(ctx, default_count)
    page = rows[first:] if count is None else rows[first : first + count]
    return JSONResponse(page)


# ------------------------------------------------------------------ JSON Patch

READ_ONLY = {"guid", "createdDateTime", "createdBy", "lastUpdatedDateTime", "lastUpdatedBy"}


@dataclass
class PatchRules:
    """What a PATCH may change on one resource: reference fields and extra read-only fields."""

    refs: dict[str, Callable[[SeveraStore, str], Record]] = field(default_factory=dict)
    read_only: set[str] = field(default_factory=set)
    after: Callable[[SeveraStore, Record], None] | None = None


def _check_type(old: Any, new: Any, path: str) -> None:
    ok = True
    if isinstance(old, bool):
        ok = isinstance(new, bool)
    elif isinstance(old, int | float):
        ok = new is None or (isinstance(new, int | float) and not isinstance(new, bool))
    elif isinstance(old, str):
        ok = new is None or isinstance(new, str)
    if not ok:
        raise ApiError(
            400,
            "InvalidParameter",
            f"The value for {path} has the wrong type.",
            name=path,
            location="RequestBody",
        )
    if isinstance(new, str) and path.endswith("Date"):
        try:
            dt.date.fromisoformat(new[:10])
        except ValueError as exc:
            raise ApiError(
                400,
                "InvalidParameter",
                f"The value '{new}' is not a valid date for {path}.",
                name=path,
                location="RequestBody",
            ) from exc


def apply_patch(store: SeveraStore, kind: str, guid: str, ops: Any, rules: PatchRules) -> Record:
    """Apply a JSON Patch document (only ``replace``, any letter case) and return the updated record."""
    record = store.get(kind, guid)
    if record is None:
        raise not_found()
    if not isinstance(ops, list) or not ops:
        raise ApiError(
            400,
            "InvalidRequest",
            "A JSON patch document (array of operations) is required.",
            location="RequestBody",
        )
    changes: Record = {}
    for op in ops:
        if not isinstance(op, dict) or not isinstance(op.get("op"), str) or not isinstance(op.get("path"), str):
            raise ApiError(400, "InvalidRequest", "Each patch operation needs 'op' and 'path'.", location="RequestBody")
        if op["op"].lower() != "replace":
            raise ApiError(
                400,
                "InvalidOperation",
                f"Patch operation '{op['op']}' is not supported. Only Replace is supported.",
                name="op",
                location="RequestBody",
            )
        parts = [p for p in op["path"].strip().split("/") if p]
        if not parts:
            raise ApiError(400, "InvalidParameter", "Empty patch path.", name="path", location="RequestBody")
        # JSON pointers into .NET models bind case-insensitively.
        top = next((k for k in record if k.lower() == parts[0].lower()), parts[0])
        value = op.get("value")
        if top in READ_ONLY or top in rules.read_only:
            raise ApiError(
                400,
                "InvalidParameter",
                f"The field {op['path']} cannot be changed.",
                name=op["path"],
                location="RequestBody",
            )
        if top in rules.refs:
            if len(parts) == 2 and parts[1].lower() == "guid":
                ref_guid = value
            elif len(parts) == 1:
                ref_guid = value.get("guid") if isinstance(value, dict) else value
            else:
                raise ApiError(
                    400,
                    "InvalidParameter",
                    f"Unknown patch path {op['path']}.",
                    name=op["path"],
                    location="RequestBody",
                )
            if ref_guid is None:
                changes[top] = None
                continue
            try:
                changes[top] = rules.refs[top](store, str(ref_guid))
            except ValidationProblem as problem:
                raise ApiError(
                    400,
                    "InvalidParameter",
                    f"{op['path']}: {problem.message}",
                    name=op["path"],
                    location="RequestBody",
                ) from problem
            continue
        if top not in record:
            raise ApiError(
                400,
                "InvalidParameter",
                f"Unknown patch path {op['path']}.",
                name=op["path"],
                location="RequestBody",
            )
        if len(parts) == 1:
            _check_type(record[top], value, top)
            changes[top] = value
        elif len(parts) == 2 and isinstance(record[top], dict | None):
            nested = dict(changes.get(top) or record[top] or {})
            key = next((k for k in nested if k.lower() == parts[1].lower()), parts[1])
            _check_type(nested.get(key), value, f"{top}/{key}")
            nested[key] = value
            changes[top] = nested
        else:
            raise ApiError(
                400,
                "InvalidParameter",
                f"Unknown patch path {op['path']}.",
                name=op["path"],
                location="RequestBody",
            )
    updated = store.update(kind, guid, changes)
    if rules.after is not None:
        rules.after(store, updated)
    return updated
