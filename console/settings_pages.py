"""The console's company settings: switch a company and its transfer kinds on and off, edit its settings in a
form, and read who changed what.

Where the settings live is the deployment's choice (SEVPRO_COMPANY_SETTINGS):

- `topic`: the settings are events (foundation/settings_directory.py). A change is published as a
  CompanySettingsChanged by `set_company`, the function `sevpro settings set` uses, with the signed-in user as
  who; running workers apply it at once.
- `file`: the TOML file (SEVPRO_COMPANIES_FILE). A change is written to a temporary file next to it and renamed
  over it (a reader sees the old file or the new one, never half of one); comments and the order of keys are
  not kept. The worker reads the file only when it starts, and the page says so. Each change is also appended
  to `<file>.history.jsonl` (who, when, what changed), which is the history the console shows in this mode.

Either way, every change goes through `change_company` (foundation/settings_events.py): the model of the TOML
file validates the whole company, and a refusal names the field. A form carries the fingerprint of the
settings it showed: when someone else changed the company in between, it is refused instead of saved over
their change.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
import tomllib
import types
import typing
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from inspect import isclass
from pathlib import Path
from typing import Any, Protocol

import tomli_w
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from console.auth import current_user
from console.html import Safe, csrf_field, fmt, join, link, page, table, url, when
from foundation.company import PURCHASE_IMPORT_STATUSES, CompanySettings, CompanySettingsError, load_companies
from foundation.i18n import N_, _
from foundation.settings_directory import SettingsChangedMeanwhile, read_directory, read_history, set_company
from foundation.settings_events import SettingsRefused, change_company, changes, fingerprint
from foundation.types import Json

ORIGIN = "sevpro console"


# -- where the settings are --------------------------------------------------------------------------------
@dataclass
class Companies:
    settings: dict[str, CompanySettings]
    revisions: dict[str, int]  # the latest revision of each company (file mode: of the console's changes)


class CompanySettingsSource(Protocol):
    mode: str  # "topic" or "file"

    def where(self) -> str: ...

    async def load(self) -> Companies: ...

    async def change(self, company: str, values: Mapping[str, Any], *, changed_by: str,
                     based_on: str | None) -> Json | None: ...

    async def history(self, company: str) -> list[Json]: ...


class TopicSettings:
    """The tenant's company settings as events on Kafka."""

    mode = "topic"

    def __init__(self, bootstrap: str, tenant: str) -> None:
        self.bootstrap, self.tenant = bootstrap, tenant

    def where(self) -> str:
        return self.tenant

    async def load(self) -> Companies:
        directory = await read_directory(self.bootstrap)
        records = directory.companies.get(self.tenant, {})
        return Companies(directory.company_settings(self.tenant),
                         {name: record["revision"] for name, record in records.items()})

    async def change(self, company: str, values: Mapping[str, Any], *, changed_by: str,
                     based_on: str | None) -> Json | None:
        published = await set_company(self.bootstrap, self.tenant, company, values, changed_by=changed_by,
                                      origin=ORIGIN, based_on=based_on)
        return published[0] if published else None

    async def history(self, company: str) -> list[Json]:
        return [record for name, record in await read_history(self.bootstrap, self.tenant, company)
                if name == "CompanySettingsChanged"]


class FileSettings:
    """The companies TOML file, written atomically; its history kept beside it."""

    mode = "file"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.history_path = self.path.with_name(self.path.name + ".history.jsonl")

    def where(self) -> str:
        return str(self.path)

    async def load(self) -> Companies:
        return await run_in_threadpool(self._load)

    def _load(self) -> Companies:
        history = self._history()
        revisions = {r["company"]: r["revision"] for r in history}
        return Companies(load_companies(self.path), revisions)

    async def change(self, company: str, values: Mapping[str, Any], *, changed_by: str,
                     based_on: str | None) -> Json | None:
        return await run_in_threadpool(self._change, company, values, changed_by, based_on)

    def _change(self, company: str, values: Mapping[str, Any], changed_by: str, based_on: str | None) -> Json | None:
        with self._locked():  # one writer at a time, across console processes too
            current = load_companies(self.path)
            if company not in current:
                raise SettingsRefused([f"company {company!r}: not in {self.path}"])
            if based_on is not None and fingerprint(current[company]) != based_on:
                raise SettingsChangedMeanwhile(f"company {company!r}: its settings were changed by someone else "
                                               "after the form was opened; nothing was saved: reload and change again")
            new = change_company(current[company], company, values)
            changed = changes(current[company].model_dump(mode="json"), new.model_dump(mode="json"))
            if not changed:
                return None
            with self.path.open("rb") as handle:
                document = tomllib.load(handle)
            table_of_new = new.model_dump(mode="json", exclude_none=True)  # TOML has no null: unset is left out
            table_of_new.pop("name")
            document["company"][company] = table_of_new
            self._replace(tomli_w.dumps(document).encode())
            revision = max((r["revision"] for r in self._history() if r["company"] == company), default=0) + 1
            record = {"company": company, "revision": revision, "changed_by": changed_by,
                      "changed_at": datetime.now(UTC).isoformat(timespec="seconds"), "origin": ORIGIN,
                      "changes": changed}
            with self.history_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            return record

    def _replace(self, content: bytes) -> None:
        """Write `content` to a temporary file in the same folder and rename it over the file (atomic on POSIX)."""
        mode = self.path.stat().st_mode & 0o777
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, mode)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        folder = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)  # the rename itself survives a crash
        finally:
            os.close(folder)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self.path.with_name(self.path.name + ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _history(self) -> list[Json]:
        if not self.history_path.exists():
            return []
        return [json.loads(line) for line in self.history_path.read_text(encoding="utf-8").splitlines() if line]

    async def history(self, company: str) -> list[Json]:
        return [r for r in await run_in_threadpool(self._history) if r["company"] == company]


def source_from_settings(mode: str, tenant: str, companies_file: Path | None,
                         bootstrap: str | None) -> CompanySettingsSource | None:
    """The console's settings, as the worker's: the topic of its tenant, or its companies file (None: neither)."""
    if mode == "topic":
        return TopicSettings(bootstrap, tenant) if bootstrap and tenant else None
    return FileSettings(companies_file) if companies_file else None


# -- the form: one input per field of the model ---------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    path: str  # dotted, as `sevpro settings set` names it
    kind: str  # bool, text, int, choice, map, multi
    required: bool
    nullable: bool
    choices: tuple[str, ...] = ()


SECTION_TITLES = {"": N_("Company"), "sales_invoices": N_("Sales invoices"),
                  "travel_reimbursements": N_("Travel reimbursements"), "purchase_invoices": N_("Purchase invoices"),
                  "payments": N_("Payments back to Severa")}
# A field whose values are a fixed set the type does not spell (tuple[str, ...]).
MULTI_CHOICES = {"purchase_invoices.statuses": PURCHASE_IMPORT_STATUSES}
LABELS = {
    "display_name": N_("Name shown to people"),
    "country": N_("Country"),
    "enabled": N_("Integration on for this company"),
    "severa_business_unit_guid": N_("Severa business unit (guid)"),
    "severa_business_unit_name": N_("Severa business unit (name)"),
    "procountor_api_key_env": N_("Environment variable holding the Procountor API key"),
    "create_customers": N_("Create missing customers in Procountor"),
    "create_products": N_("Create missing products in Procountor"),
    "default_product_code": N_("Default product code"),
    "default_work_type_code": N_("Default work type code"),
    "default_travel_expense_code": N_("Default travel expense code"),
    "project_dimension": N_("Procountor dimension for projects"),
    "cost_center_dimension": N_("Procountor dimension for cost centers"),
    "business_unit_dimension": N_("Procountor dimension for business units"),
    "send_error_email": N_("Send errors by e-mail"),
    "error_email": N_("E-mail address for errors"),
    "language": N_("Language of the error e-mails (empty: the country's)"),
    "bank_account_iban": N_("IBAN of the bank account on sales invoices (empty: Procountor's default)"),
    "bank_account_currency": N_("Currency of that bank account"),
    "transfer_status": N_("Severa status to transfer from"),
    "after_transfer_status": N_("Severa status after the transfer"),
    "procountor_status": N_("Status in Procountor after the transfer"),
    "transfer_business_unit_dimension": N_("Business unit as a dimension"),
    "transfer_cost_center_dimension": N_("Cost center as a dimension"),
    "transfer_project_dimension": N_("Project as a dimension"),
    "attachments": N_("Attachment to transfer"),
    "send_by_email": N_("Send by e-mail"),
    "transfer_sales_accounts": N_("Severa's sales accounts as Procountor ledger accounts"),
    "vat_status": N_("VAT status of a domestic sale"),
    "vat_status_by_severa_vat_code": N_("VAT status by the customer's Severa VAT code (one CODE = STATUS a line)"),
    "status_before": N_("Severa status to transfer from"),
    "status_after": N_("Severa status after the transfer"),
    "update_persons": N_("Update persons in Procountor"),
    "statuses": N_("Purchase invoice statuses to import"),
    "paid_status": N_("Severa status of a paid invoice"),
    "partly_paid_status": N_("Severa status of a partly paid invoice (empty: none)"),
    "payment_date": N_("Write the payment date to the Severa invoice"),
}
# The switches of the settings overview: a company, and each transfer kind the model can turn off. Sales invoices
# have no switch of their own (they go with the company); dimension items go with the dimension toggles.
COMPANY_SWITCHES = ("enabled", "travel_reimbursements.enabled", "purchase_invoices.enabled", "payments.enabled")
DIMENSION_SWITCHES = tuple(f"{section}.transfer_{kind}_dimension" for kind in ("project", "cost_center",
                                                                               "business_unit")
                           for section in ("sales_invoices", "travel_reimbursements"))
SWITCHES = COMPANY_SWITCHES + DIMENSION_SWITCHES


def model_fields(model: type[BaseModel] = CompanySettings, prefix: str = "") -> list[Field]:
    """Every field of the settings model (a field added to it appears in the form without a change here)."""
    found: list[Field] = []
    for name, info in model.model_fields.items():
        if not prefix and name == "name":
            continue  # the company's key, not editable
        annotation: Any = info.annotation
        nullable = False
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            nullable, annotation = len(args) < len(typing.get_args(annotation)), args[0]
        path = prefix + name
        required = info.is_required()
        if isclass(annotation) and issubclass(annotation, BaseModel):
            found += model_fields(annotation, path + ".")
        elif annotation is bool:
            found.append(Field(path, "bool", required, nullable))
        elif annotation is int:
            found.append(Field(path, "int", required, nullable))
        elif isclass(annotation) and issubclass(annotation, Enum):
            found.append(Field(path, "choice", required, nullable, tuple(str(e.value) for e in annotation)))
        elif typing.get_origin(annotation) is typing.Literal:
            found.append(Field(path, "choice", required, nullable, tuple(map(str, typing.get_args(annotation)))))
        elif typing.get_origin(annotation) is dict:
            found.append(Field(path, "map", required, nullable))
        elif typing.get_origin(annotation) in (tuple, list):
            found.append(Field(path, "multi", required, nullable, tuple(MULTI_CHOICES.get(path, ()))))
        else:
            found.append(Field(path, "text", required, nullable))
    return found


FIELDS = model_fields()
# The form's sections: the company's own fields, then each section of the model in its order.
SECTIONS = list(dict.fromkeys(["", *(f.path.split(".")[0] for f in FIELDS if "." in f.path)]))


def _leaf(data: Mapping[str, Any], path: str) -> Any:
    for part in path.split("."):
        data = data.get(part) if isinstance(data, Mapping) else None  # type: ignore[assignment]
    return data


def read_form(form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    """The values the form sends, by dotted field (as typed: the model reads them as it reads the TOML file's), and
    the lines of a text area that cannot be read."""
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for f in FIELDS:
        if f.kind == "bool":
            values[f.path] = form.get(f.path) == "true"
        elif f.kind == "multi":
            chosen = [str(v) for v in form.getlist(f.path)]
            values[f.path] = chosen if f.choices else [v.strip() for v in "\n".join(chosen).splitlines() if v.strip()]
        elif f.kind == "map":
            text = str(form.get(f.path) or "")
            mapping: dict[str, str] | str = {}
            for number, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                key, sep, value = line.partition("=")
                if not sep or not key.strip():
                    problems[f.path] = _("line {n}: write CODE = STATUS, e.g. EU = 6").format(n=number)
                    mapping = text  # shown again as typed, to correct
                    break
                assert isinstance(mapping, dict)
                mapping[key.strip()] = value.strip()
            values[f.path] = mapping
        else:
            raw = str(form.get(f.path) or "").strip()
            values[f.path] = None if raw == "" and f.nullable else raw
            if raw == "" and not f.nullable and not f.required:
                values.pop(f.path)  # empty: left as it is (a number with a default)
    return values, problems


def _placed(company: str, problems: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """The model's refusals by the field they name (`company 'FI': sales_invoices.vat_status: ...`); a rule
    across fields goes to the first field its message names, else above the form."""
    by_field: dict[str, list[str]] = {}
    general: list[str] = []
    prefix = f"company {company!r}: "
    paths = [f.path for f in FIELDS]
    for problem in problems:
        location, _sep, message = problem.removeprefix(prefix).partition(": ")
        within = [p for p in paths if location.startswith(p + ".")]  # an entry of a field (a mapping's key)
        target = location if location in paths else within[0] if within else _named_in(location, message, paths)
        if target:
            by_field.setdefault(target, []).append(message if target == location else f"{location}: {message}"
                                                   if location not in ("(settings)", "") else message)
        else:
            general.append(problem.removeprefix(prefix))
    return by_field, general


def _named_in(location: str, message: str, paths: list[str]) -> str | None:
    section = "" if location in ("(settings)", "") else location + "."
    found: list[tuple[int, str]] = []
    for path in paths:
        if not path.startswith(section):
            continue
        for name in {path, path.removeprefix(section)}:
            match = re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", message)
            if match:
                found.append((match.start(), path))
    return min(found)[1] if found else None


def _label(path: str) -> str:
    return _(LABELS.get(path.rsplit(".", 1)[-1], path))


def _input(f: Field, value: Any, errors: list[str]) -> Safe:
    name = f.path
    if f.kind == "bool":
        control = fmt('<input type="checkbox" name="{n}" value="true"{c}>', n=name,
                      c=Safe(" checked") if value else "")
    elif f.kind == "choice":
        options = ([""] if f.nullable else []) + list(f.choices)
        control = fmt('<select name="{n}">{o}</select>', n=name, o=join(
            fmt('<option value="{v}"{s}>{t}</option>', v=o, t=o or _("(not set)"),
                s=Safe(" selected") if str(value or "") == o else "") for o in options))
    elif f.kind == "multi" and f.choices:
        chosen = set(value or ())
        control = join(fmt('<label class="inline"><input type="checkbox" name="{n}" value="{v}"{c}> {v}</label>',
                           n=name, v=o, c=Safe(" checked") if o in chosen else "") for o in f.choices)
    elif f.kind in ("map", "multi"):
        text = (value if isinstance(value, str) else "\n".join(f"{k} = {v}" for k, v in (value or {}).items())
                if f.kind == "map" else "\n".join(value or ()))
        control = fmt('<textarea name="{n}" rows="3">{t}</textarea>', n=name, t=text)
    else:
        control = fmt('<input type="{k}" name="{n}" value="{v}"{r}>', k="text", n=name,
                      v="" if value is None else value, r=Safe(" required") if f.required else "")
    problem = join(fmt('<p class="field-error" id="error-{n}" role="alert"><code>{n}</code>: {m}</p>', n=name, m=m)
                   for m in errors)
    return fmt('<div class="field{bad}"><label><span class="label">{l}</span> <code class="setting">{n}</code>'
               '</label><div class="control">{c}</div>{p}</div>', bad=" invalid" if errors else "", l=_label(name),
               n=name, c=control, p=problem)


def _form_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted values read from a form → the nested shape of `model_dump`, to show them again."""
    nested: dict[str, Any] = {}
    for path, value in values.items():
        *parents, last = path.split(".")
        target = nested
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
    return nested


# -- pages ---------------------------------------------------------------------------------------------------
CSS = Safe("""<style>
.field{display:grid;grid-template-columns:minmax(260px,380px) 1fr;gap:4px 14px;padding:6px 0;
border-bottom:1px solid var(--line)}
.field .label{display:block}.field code.setting{color:var(--muted);font-size:11px}
.field input[type=text],.field select,.field textarea{font:inherit;padding:4px 6px;border:1px solid #c5ced8;
border-radius:4px;min-width:320px;background:#fff}
.field.invalid input,.field.invalid select,.field.invalid textarea{border-color:var(--bad)}
.field-error{grid-column:2;color:var(--bad);margin:0;font-weight:500}
label.inline{margin-right:12px;white-space:nowrap}form.filters input[type=checkbox]{min-width:0}
fieldset{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:6px 14px 10px;margin:0 0 14px}
legend{font-weight:600;padding:0 6px}
form.switch{display:inline}form.switch button{padding:1px 8px;font-size:12px}
.on{color:var(--ok);font-weight:600}.off{color:var(--muted)}.links{font-size:12px;margin-top:2px}
.notice{background:#eef6ff;border:1px solid #c7ddf5;border-left:4px solid var(--accent);border-radius:6px;
padding:10px 14px;margin:10px 0}
</style>""")


def _mode_notice(source: CompanySettingsSource) -> Safe:
    if source.mode == "topic":
        text = _("The settings are events on Kafka (tenant {t}): a change is published at once, and running workers "
                 "apply it without a restart.").format(t=source.where())
    else:
        text = _("The settings are read from the file {f}: a change is written to the file at once, but the worker "
                 "reads it only when it starts: restart the worker after a change. Comments in the file are not "
                 "kept.").format(f=source.where())
    return fmt('<div class="notice">{t}</div>', t=text)


def _switch(company: str, field: str, on: bool, back: str) -> Safe:
    state = fmt('<span class="{c}">{t}</span>', c="on" if on else "off", t=_("on") if on else _("off"))
    button = fmt('<form class="switch" method="post" action="{a}">{csrf}<input type="hidden" name="field" value="{f}">'
                 '<input type="hidden" name="value" value="{v}"><input type="hidden" name="next" value="{b}">'
                 '<button type="submit" data-field="{f}">{t}</button></form>',
                 a=f"/settings/{company}/switch", csrf=csrf_field(), f=field, v="false" if on else "true", b=back,
                 t=_("Turn off") if on else _("Turn on"))
    return fmt("{s} {b}", s=state, b=button)


DIMENSION_KINDS = (("project", N_("Projects")), ("cost_center", N_("Cost centers")),
                   ("business_unit", N_("Business units")))


def overview(source: CompanySettingsSource, companies: Companies, now: str, problem: str | None = None) -> str:
    rows, dimensions = [], []
    for name, c in sorted(companies.settings.items()):
        links = join([link(f"/settings/{name}", _("Edit")), link(f"/settings/{name}/history", _("History")),
                      link(url("/registry/compare", {"company": name}), _("Compare registries")),
                      link(url("/registry/check", {"company": name}), _("Checklist"))], " · ")
        sales = fmt('<span class="{c}">{t}</span>', c="on" if c.enabled else "off",
                    t=_("with the company") if c.enabled else _("off"))
        rows.append([fmt('<strong>{n}</strong> <span class="muted">{d}</span><div class="links">{l}</div>', n=name,
                         d=c.display_name or "", l=links),
                     _switch(name, "enabled", c.enabled, "/settings"), sales,
                     _switch(name, "travel_reimbursements.enabled", c.travel_reimbursements.enabled, "/settings"),
                     _switch(name, "purchase_invoices.enabled", c.purchase_invoices.enabled, "/settings"),
                     _switch(name, "payments.enabled", c.payments.enabled, "/settings"),
                     companies.revisions.get(name, "–")])
        for kind, label in DIMENSION_KINDS:
            field = f"transfer_{kind}_dimension"
            dimensions.append([name, _(label), getattr(c, f"{kind}_dimension") or _("(not set)"),
                               _switch(name, f"sales_invoices.{field}", getattr(c.sales_invoices, field), "/settings"),
                               _switch(name, f"travel_reimbursements.{field}", getattr(c.travel_reimbursements, field),
                                       "/settings")])
    body = [CSS, fmt("<h1>{t}</h1>", t=_("Company settings")), _mode_notice(source),
            fmt('<div class="callout" role="alert">{p}</div>', p=problem) if problem else "",
            fmt("<p>{t} {l}</p>", t=_("Before turning a company on: compare its registries and run its checklist "
                                      "(the links in its row)."), l=link("/registry", _("Every company at once"))),
            table([_("Company"), _("Integration"), _("Sales invoices"), _("Travel reimbursements"),
                   _("Purchase invoices"), _("Payments back to Severa"), _("Revision")], rows, cls="companies",
                  empty=_("No company settings yet.")),
            fmt("<h2>{t}</h2><p class=\"muted\">{e}</p>", t=_("Dimension items"),
                e=_("Projects, cost centers and business units become dimension items in Procountor when their "
                    "dimension is on for sales invoices or travel reimbursements (projects also for the purchase "
                    "invoice import).")),
            table([_("Company"), _("Dimension items"), _("Dimension in Procountor"), _("Sales invoices"),
                   _("Travel reimbursements")], dimensions, cls="dimensions")]
    return page(_("Company settings"), join(body), active="/settings", now=now)


def edit_form(source: CompanySettingsSource, company: str, values: Mapping[str, Any], based_on: str, now: str,
              errors: Mapping[str, list[str]] | None = None, general: list[str] | None = None,
              notice: str | None = None, revision: int | None = None) -> str:
    errors = errors or {}
    sections = []
    for section in SECTIONS:
        mine = [f for f in FIELDS if (f.path.split(".")[0] == section if section else "." not in f.path)]
        title = _(SECTION_TITLES[section]) if section in SECTION_TITLES else section
        sections.append(fmt("<fieldset><legend>{t}</legend>{f}</fieldset>", t=title,
                            f=join(_input(f, _leaf(values, f.path), errors.get(f.path, [])) for f in mine)))
    count = sum(len(v) for v in errors.values()) + len(general or [])
    summary = fmt('<div class="callout" role="alert"><strong>{h}</strong>{g}</div>',
                  h=_("Not saved. Correct the fields marked below (problems: {n}).").format(n=count),
                  g=join(fmt("<div>{p}</div>", p=p) for p in general or [])) if count else Safe("")
    done = fmt('<div class="callout done" role="status">{t}</div>', t=notice) if notice else Safe("")
    body = [CSS, fmt("<h1>{t} <code>{c}</code></h1>", t=_("Settings of company"), c=company),
            fmt('<p>{h} · {c} · {k}{r}</p>', h=link(f"/settings/{company}/history", _("History")),
                c=link(url("/registry/compare", {"company": company}), _("Compare registries")),
                k=link(url("/registry/check", {"company": company}), _("Checklist")),
                r=fmt(' <span class="muted">{t}</span>', t=_("revision {n}").format(n=revision)) if revision else ""),
            _mode_notice(source), done, summary,
            fmt('<form class="settings" method="post" action="{a}">{csrf}<input type="hidden" name="based_on" '
                'value="{b}">{s}<button type="submit">{t}</button></form>', a=f"/settings/{company}",
                csrf=csrf_field(), b=based_on, s=join(sections), t=_("Save"))]
    return page(_("Settings of {c}").format(c=company), join(body), active="/settings", now=now)


def _value(encoded: str | None) -> str:
    """A value of the history as the TOML file writes it (true, 6, ["PAID"]); a text as it is."""
    if encoded is None:
        return "–"
    value = json.loads(encoded)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def history_page(company: str, records: list[Json], now: str) -> str:
    rows = []
    for record in reversed(records):  # newest first
        at = record["changed_at"]
        at = at.isoformat() if isinstance(at, datetime) else str(at)
        for index, change in enumerate(record["changes"]):
            first = index == 0
            rows.append([when(at) if first else "", record["changed_by"] if first else "",
                         record["revision"] if first else "", fmt("<code>{f}</code>", f=change["field"]),
                         _value(change["before"]), _value(change["after"]), record["origin"] if first else ""])
    body = [CSS, fmt("<h1>{t} <code>{c}</code></h1>", t=_("Settings history of company"), c=company),
            fmt("<p>{l}</p>", l=link(f"/settings/{company}", _("Back to the settings"))),
            table([_("When (UTC)"), _("Who"), _("Revision"), _("Field"), _("Before"), _("After"), _("How")], rows,
                  cls="history", empty=_("No change recorded."))]
    return page(_("Settings history of {c}").format(c=company), join(body), active="/settings", now=now)


def not_configured(now: str) -> str:
    return page(_("Company settings"), fmt('<h1>{h}</h1><p>{t}</p>', h=_("Company settings"),
                                          t=_("This console has no company settings to show: set SEVPRO_COMPANIES_FILE"
                                              " (or SEVPRO_COMPANY_SETTINGS=topic with SEVPRO_TENANT and a Kafka "
                                              "bootstrap), as for the worker, and start it again.")),
                active="/settings", now=now)


# -- routes --------------------------------------------------------------------------------------------------
def routes(source: CompanySettingsSource | None, stamp: Any) -> list[Route]:
    """The settings pages over `source` (None: a page saying how to configure them); `stamp` is the page's time."""

    def who() -> str:
        return current_user.get() or "?"

    async def loaded(now: str) -> tuple[Companies | None, Response | None]:
        assert source is not None
        try:
            return await source.load(), None
        except (SettingsRefused, CompanySettingsError) as error:
            return None, HTMLResponse(page(_("Company settings"), fmt(
                '<h1>{h}</h1><div class="callout" role="alert"><pre>{e}</pre></div>', h=_("Company settings"),
                e=str(error)), active="/settings", now=now), status_code=500)

    async def settings_overview(request: Request) -> Response:
        if source is None:
            return HTMLResponse(not_configured(stamp()))
        companies, failed = await loaded(stamp())
        if failed or companies is None:
            return failed or HTMLResponse("", status_code=500)
        return HTMLResponse(overview(source, companies, stamp()))

    async def company_form(request: Request) -> Response:
        if source is None:
            return HTMLResponse(not_configured(stamp()))
        company = request.path_params["company"]
        companies, failed = await loaded(stamp())
        if failed or companies is None:
            return failed or HTMLResponse("", status_code=500)
        if company not in companies.settings:
            return HTMLResponse(_not_found(company, stamp()), status_code=404)
        settings = companies.settings[company]
        notice = None
        if request.query_params.get("saved"):
            notice = (_("Saved: revision {n} is published, and running workers apply it now.") if source.mode == "topic"
                      else _("Saved to {f}. Restart the worker: it reads the file only when it starts.")).format(
                n=companies.revisions.get(company, "?"), f=source.where())
        elif request.query_params.get("unchanged"):
            notice = _("Nothing changed, nothing saved.")
        return HTMLResponse(edit_form(source, company, settings.model_dump(mode="json"), fingerprint(settings),
                                      stamp(), notice=notice, revision=companies.revisions.get(company)))

    async def save(request: Request) -> Response:
        if source is None:
            return HTMLResponse(not_configured(stamp()), status_code=404)
        company = request.path_params["company"]
        companies, failed = await loaded(stamp())
        if failed or companies is None:
            return failed or HTMLResponse("", status_code=500)
        if company not in companies.settings:  # the form changes a company; it never makes a new one
            return HTMLResponse(_not_found(company, stamp()), status_code=404)
        form = await request.form()
        values, problems = read_form(form)
        based_on = str(form.get("based_on") or "")
        shown = _form_values(values)
        if problems:
            return HTMLResponse(edit_form(source, company, shown, based_on, stamp(),
                                          errors={k: [v] for k, v in problems.items()}), status_code=400)
        try:
            record = await source.change(company, values, changed_by=who(), based_on=based_on)
        except SettingsChangedMeanwhile as error:
            return HTMLResponse(edit_form(source, company, shown, based_on, stamp(), general=[
                _("Someone else changed this company's settings after you opened the form; nothing was saved. "
                  "Reload the page to see their change, then make yours again."), str(error)]), status_code=409)
        except SettingsRefused as error:
            by_field, general = _placed(company, error.problems)
            return HTMLResponse(edit_form(source, company, shown, based_on, stamp(), errors=by_field,
                                          general=general), status_code=400)
        except (CompanySettingsError, OSError) as error:  # the file cannot be read or written: nothing changed
            return HTMLResponse(edit_form(source, company, shown, based_on, stamp(), general=[str(error)]),
                                status_code=500)
        return RedirectResponse(f"/settings/{company}?{'saved=1' if record else 'unchanged=1'}", status_code=303)

    async def switch(request: Request) -> Response:
        if source is None:
            return HTMLResponse(not_configured(stamp()), status_code=404)
        company = request.path_params["company"]
        form = await request.form()
        field, value = str(form.get("field") or ""), str(form.get("value") or "")
        back = str(form.get("next") or "/settings")
        back = back if back in ("/settings", f"/settings/{company}") else "/settings"
        companies, failed = await loaded(stamp())
        if failed or companies is None:
            return failed or HTMLResponse("", status_code=500)
        if company not in companies.settings:
            return HTMLResponse(_not_found(company, stamp()), status_code=404)
        if field not in SWITCHES or value not in ("true", "false"):
            problem = _("{f} cannot be switched here (only {s}).").format(f=f"{field}={value}",
                                                                          s=", ".join(SWITCHES))
            return HTMLResponse(overview(source, companies, stamp(), problem), status_code=400)
        try:
            await source.change(company, {field: value == "true"}, changed_by=who(), based_on=None)
        except SettingsRefused as error:
            problems = "; ".join(p for p in error.problems)
            return HTMLResponse(overview(source, companies, stamp(), _("Not changed: {p}").format(p=problems)),
                                status_code=400)
        except (CompanySettingsError, OSError) as error:
            return HTMLResponse(overview(source, companies, stamp(), _("Not changed: {p}").format(p=str(error))),
                                status_code=500)
        return RedirectResponse(back, status_code=303)

    async def history(request: Request) -> Response:
        if source is None:
            return HTMLResponse(not_configured(stamp()))
        company = request.path_params["company"]
        return HTMLResponse(history_page(company, await source.history(company), stamp()))

    return [Route("/settings", settings_overview), Route("/settings/{company}", company_form, methods=["GET"]),
            Route("/settings/{company}", save, methods=["POST"]),
            Route("/settings/{company}/switch", switch, methods=["POST"]),
            Route("/settings/{company}/history", history)]


def _not_found(company: str, now: str) -> str:
    return page(_("Not found"), fmt('<h1>{h}</h1><p>{t}</p>', h=_("Not found"),
                                    t=_("There is no company {c} in the settings.").format(c=company)),
                active="/settings", now=now)
