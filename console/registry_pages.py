"""The checks before enabling, from the browser: the registry comparison (`sevpro compare`) and the checklist
(`sevpro check`), run by the same functions (registry/runs.py) on the companies of the console's settings, shown
as tables; `/api/registry/compare` and `/api/registry/check` answer exactly what the commands print with `--json`.

Both only read Severa and Procountor (with the worker's SEVPRO_SEVERA_* / SEVPRO_PROCOUNTOR_* settings and each
company's API key variable), so they are GETs; they run when asked (a button), not on every page view.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from console.html import Safe, fmt, join, page, table
from console.settings_pages import CSS, CompanySettingsSource, not_configured
from foundation.company import CompanySettings, CompanySettingsError
from foundation.i18n import _
from foundation.settings import Settings
from foundation.settings_events import SettingsRefused
from registry.checks import ITEMS
from registry.compare import REGISTRIES
from registry.runs import check_companies, check_document, compare_companies, compare_document

NO_BOOTSTRAP = "the console was started without a Kafka bootstrap (--bootstrap)"


class Refused(ValueError):
    """A request that cannot be run (an unknown company, settings that cannot be read); the message says why."""


def _badge(status: str) -> Safe:
    css = {"ok": "succeeded", "info": "pending", "warning": "failed-transient", "error": "failed-data",
           "reminder": "pending"}.get(status, "pending")
    return fmt('<span class="badge state-{c}" data-status="{s}">{s}</span>', c=css, s=status)


def _finding(message: str, fix: str | None) -> Safe:
    out = fmt('<span class="message">{m}</span>', m=message)
    if fix:
        out = Safe(out + fmt('<div class="solution">→ <span class="fix">{f}</span></div>', f=fix))
    return out


def _chooser(names: list[str], chosen: str | None, matched: bool) -> Safe:
    options = join([fmt('<option value="">{a}</option>', a=_("every company")),
                    *(fmt('<option value="{v}"{s}>{v}</option>', v=n, s=Safe(" selected") if n == chosen else "")
                      for n in names)])
    return fmt('<form class="filters" method="get" action="/registry/compare"><label>{lc}<select name="company">{o}'
               '</select></label><label><span><input type="checkbox" name="matched" value="1"{m}> {lm}</span></label>'
               '<button type="submit" name="run" value="compare">{bc}</button>'
               '<button type="submit" formaction="/registry/check" name="run" value="check">{bk}</button></form>',
               lc=_("Company"), o=options, m=Safe(" checked") if matched else "", lm=_("also the matched records"),
               bc=_("Compare registries"), bk=_("Run the checklist"))


def compare_page(document: dict[str, Any], names: list[str], chosen: str | None, matched: bool, now: str) -> str:
    body: list[Any] = [CSS, fmt("<h1>{t}</h1>", t=_("Registry comparison")), _chooser(names, chosen, matched),
                       fmt('<p class="muted">{t}</p>', t=_("The same report as `sevpro compare`; the findings are "
                                                           "quoted in English as the command prints them."))]
    for report in document["companies"]:
        findings = report["findings"]
        errors = sum(1 for f in findings if f["severity"] == "error")
        warnings = sum(1 for f in findings if f["severity"] == "warning")
        body.append(fmt('<h2 data-company="{c}">{t}</h2><p>{s}</p>',
                        c=report["company"], t=_("Company {c}").format(c=report["company"]) + f" · {report['date']}",
                        s=_("{e} errors, {w} warnings").format(e=errors, w=warnings)))
        for registry, title in REGISTRIES.items():
            rows = [[_badge(f["severity"]), f["key"], f["record"], f["field"] or "", f["severa"] or "",
                     f["procountor"] or "", _finding(f["message"], f["fix"])]
                    for f in findings if f["registry"] == registry and (matched or f["severity"] != "ok")]
            if rows:
                body.append(fmt("<h3>{t}</h3>", t=title))
                body.append(table(["", _("Key"), _("Record"), _("Field"), "Severa", "Procountor", _("Finding")],
                                  rows, cls=f"findings registry-{registry}"))
    for failure in document["failures"]:
        body.append(fmt('<div class="callout failure" role="alert">{f}</div>', f=failure))
    return page(_("Registry comparison"), join(body), active="/settings", now=now)


def check_page(document: dict[str, Any], names: list[str], chosen: str | None, now: str) -> str:
    body: list[Any] = [CSS, fmt("<h1>{t}</h1>", t=_("Checklist before enabling")), _chooser(names, chosen, False),
                       fmt('<p class="muted">{t}</p>', t=_("The same checks as `sevpro check`; the findings are "
                                                           "quoted in English as the command prints them."))]
    checks = document["checks"]
    for company in dict.fromkeys(c["company"] for c in checks):
        mine = [c for c in checks if c["company"] == company]
        errors = sum(1 for c in mine if c["status"] == "error")
        warnings = sum(1 for c in mine if c["status"] == "warning")
        verdict = (fmt('<span class="badge state-failed-data">{t}</span>', t=_("not ready to enable")) if errors
                   else fmt('<span class="badge state-succeeded">{t}</span>', t=_("ready to enable")))
        body.append(fmt('<h2 data-company="{c}">{t}</h2><p>{s} {v}</p>', c=company,
                        t=_("Company {c}").format(c=company), s=_("{e} errors, {w} warnings").format(e=errors,
                                                                                                   w=warnings),
                        v=verdict))
        body.append(table(["", _("Check"), _("Record"), _("Field"), _("Finding")],
                          ([_badge(c["status"]), fmt('<span data-item="{i}">{t}</span>', i=c["item"],
                                                     t=ITEMS.get(c["item"], c["item"])),
                            c["record"] or "", c["field"] or "", _finding(c["message"], c["fix"])] for c in mine),
                          cls="checks"))
    return page(_("Checklist before enabling"), join(body), active="/settings", now=now)


def routes(source: CompanySettingsSource | None, bootstrap: str | None, stamp: Any) -> list[Route]:

    async def companies(request: Request) -> tuple[list[CompanySettings], list[str]]:
        if source is None:
            raise Refused("no company settings: set SEVPRO_COMPANIES_FILE (or SEVPRO_COMPANY_SETTINGS=topic)")
        try:
            known = (await source.load()).settings
        except (SettingsRefused, CompanySettingsError) as error:
            raise Refused(str(error)) from None
        chosen = request.query_params.get("company") or None
        if chosen and chosen not in known:
            raise Refused(f"no company {chosen}; known: {', '.join(known)}")
        return [c for name, c in known.items() if not chosen or name == chosen], sorted(known)

    def worker_settings() -> Settings:
        try:
            return Settings()
        except ValidationError as error:
            raise Refused(f"the worker's settings cannot be read: {error}") from None

    async def run_compare(request: Request) -> tuple[dict[str, Any], list[str]]:
        chosen, names = await companies(request)
        reports, failures = await compare_companies(worker_settings(), chosen)
        return compare_document(reports, failures), names

    async def run_check(request: Request) -> tuple[dict[str, Any], list[str]]:
        chosen, names = await companies(request)
        return check_document(await check_companies(worker_settings(), chosen, bootstrap, NO_BOOTSTRAP)), names

    async def refused(error: Refused, as_json: bool) -> Response:
        if as_json:
            return JSONResponse({"error": str(error)}, status_code=400)
        return HTMLResponse(page(_("Error"), fmt('<h1>400</h1><div class="callout" role="alert">{e}</div>',
                                                e=str(error)), active="/settings", now=stamp()), status_code=400)

    async def start(request: Request) -> Response:
        if source is None:
            return HTMLResponse(not_configured(stamp()))
        try:
            _chosen, names = await companies(request)
        except Refused as error:
            return await refused(error, False)
        body = [CSS, fmt("<h1>{t}</h1>", t=_("Before enabling")), _chooser(names, None, False),
                fmt("<p>{t}</p>", t=_("The registry comparison lists how customers, products, dimensions, users and "
                                      "sales accounts match between Severa and Procountor; the checklist adds the "
                                      "credentials, the statuses and the reminders to confirm by hand. Both only "
                                      "read, and take a few seconds."))]
        return HTMLResponse(page(_("Before enabling"), join(body), active="/settings", now=stamp()))

    async def compare(request: Request) -> Response:
        try:
            document, names = await run_compare(request)
        except Refused as error:
            return await refused(error, False)
        return HTMLResponse(compare_page(document, names, request.query_params.get("company") or None,
                                         request.query_params.get("matched") == "1", stamp()))

    async def check(request: Request) -> Response:
        try:
            document, names = await run_check(request)
        except Refused as error:
            return await refused(error, False)
        return HTMLResponse(check_page(document, names, request.query_params.get("company") or None, stamp()))

    async def api_compare(request: Request) -> Response:
        try:
            return JSONResponse((await run_compare(request))[0])
        except Refused as error:
            return await refused(error, True)

    async def api_check(request: Request) -> Response:
        try:
            return JSONResponse((await run_check(request))[0])
        except Refused as error:
            return await refused(error, True)

    return [Route("/registry", start), Route("/registry/compare", compare), Route("/registry/check", check),
            Route("/api/registry/compare", api_compare), Route("/api/registry/check", api_check)]

