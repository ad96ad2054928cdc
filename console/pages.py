"""The console's pages, from the query results (pure functions: data in, escaped HTML out)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from console.html import (
    Safe,
    action_form,
    csrf_field,
    esc,
    fmt,
    join,
    link,
    page,
    record_url,
    seconds,
    select,
    state_badge,
    table,
    text_input,
    url,
    when,
)
from console.links import WebLinks
from console.queries import Page
from foundation.i18n import N_, _
from projections.apply import STATES, systems_of
from streams.mapping.errors import solution_text

#: What the Retry button is for: records that ended without being transferred.
RETRIABLE_STATES = ("failed-data", "failed-config", "failed-transient")


def record_key(entry: dict[str, Any]) -> str:
    """A transfer-log entry as the confirmation form's `record` value (console.actions reads it back)."""
    return json.dumps([entry["tenant"], entry["kind"], entry["severa_id"]], ensure_ascii=False)


OPEN_IN = {"Severa": N_("Open in Severa"), "Procountor": N_("Open in Procountor")}  # each its own text: Finnish
# inflects the name ("Severassa", "Procountorissa")

STATE_TITLES = {"failed-data": N_("Needs your action"), "failed-config": N_("Settings refused"),
                "failed-transient": N_("Retrying automatically"),
                "pending": N_("Pending"), "succeeded": N_("Succeeded")}


def _card(label: str, value: Any, sub: Any = "", cls: str = "", href: str | None = None) -> Safe:
    value_html = link(href, value) if href else esc(value)
    return fmt('<div class="card {cls}"><div class="label">{label}</div><div class="value">{value}</div>'
               '<div class="sub">{sub}</div></div>', cls=cls, label=label, value=value_html, sub=sub)


def _record_link(row: dict[str, Any]) -> Safe:
    """A record as its source system's number (or id), linking to its page."""
    number = row.get("severa_number") or row.get("source_number")
    source_id = row.get("severa_id") or row.get("source_id") or ""
    source = systems_of(str(row.get("kind") or ""))[0]
    return link(record_url(source_id, row.get("tenant")), f"{source} {number or source_id}",
                title=f"{source} {source_id}")


def _problem(error: dict[str, Any] | None, with_solution: bool = True) -> Safe:
    """Code, field = value, message and (for the user) what to do."""
    if not error or not error.get("code"):
        return Safe("")
    where = fmt(" <code>{f}</code> = <code>{v}</code>", f=error.get("field"), v=_value(error.get("value"))) \
        if error.get("field") else Safe("")
    out = fmt('<div class="problem"><strong>{c}</strong>{w}: {m}</div>', c=error["code"], w=where,
              m=error.get("message"))
    if with_solution and error.get("solution"):
        out = Safe(out + fmt('<div class="solution">→ {s}</div>', s=solution_text(error["code"], error["solution"])))
    return out


def _nowrap(text: Any) -> Safe:
    return fmt('<span class="nowrap">{t}</span>', t=text)


def _clipped(value: str) -> Safe:
    """A value shortened on screen (a 130-character row text would push the problem and the solution out of the
    window); the whole value on hover, and on the record page."""
    return fmt('<code class="clip" title="{v}">{v}</code>', v=value)


def _value(value: Any) -> str:
    return _("(empty)") if value in (None, "") else str(value)


def _error_of(row: dict[str, Any]) -> dict[str, Any]:
    """The error columns of a failures row as an error dict."""
    return {k: row.get(f"error_{k}") for k in ("code", "kind", "record", "field", "value", "message", "solution")}


# -- overview ----------------------------------------------------------------------------------------------
def overview(data: dict[str, Any], lag: dict[str, Any] | None, refresh: int | None, can_act: bool = False) -> str:
    totals: dict[str, int] = defaultdict(int)
    for row in data["counts"]:
        totals[row["state"]] += row["count"]
    hour, day = data["activity"]["last_hour"], data["activity"]["last_24h"]
    latency = data["latency"]["last_24h"]
    projector = data["projector"]
    oldest = data["oldest_pending"]
    cards = [
        _card(_("Needs action"), totals["failed-data"], _("failed-data records"),
              "bad" if totals["failed-data"] else "",
              url("/transfers", {"state": "failed-data"})),
        _card(_("Settings refused"), totals["failed-config"], _("failed-config records"),
              "bad" if totals["failed-config"] else "", url("/transfers", {"state": "failed-config"})),
        _card(_("Retrying"), totals["failed-transient"], _("failed-transient records"),
              "retry" if totals["failed-transient"] else "", url("/transfers", {"state": "failed-transient"})),
        _card(_("Pending"), totals["pending"], fmt(_("oldest since {t}"), t=when(oldest["updated_at"])) if oldest
              else _("none waiting"), "warn" if totals["pending"] else "", url("/transfers", {"state": "pending"})),
        _card(_("Succeeded"), totals["succeeded"], _("of {n} records").format(n=sum(totals.values())), "ok",
              url("/transfers", {"state": "succeeded"})),
        _card(_("Requests, last hour"), hour.get("requests", 0), _("{n} in 24 h").format(n=day.get("requests", 0))),
        _card(_("Succeeded, last hour"), hour.get("succeeded", 0) + hour.get("skipped", 0),
              _("{n} in 24 h").format(n=day.get("succeeded", 0) + day.get("skipped", 0))),
        _card(_("Failed, last hour"),
              hour.get("failed_data", 0) + hour.get("failed_config", 0) + hour.get("failed_transient", 0),
              _("{d} data, {c} settings, {t} transient").format(
                  d=hour.get("failed_data", 0), c=hour.get("failed_config", 0), t=hour.get("failed_transient", 0))),
        _card(_("Latency p50"), seconds(latency["p50_seconds"]),
              _("request → succeeded, {n} in 24 h").format(n=latency["count"])),
        _card(_("Latency p95"), seconds(latency["p95_seconds"]),
              _("max {s}").format(s=seconds(latency["max_seconds"]))),
    ]
    body = [fmt("<h1>{t}</h1>", t=_("Overview")), fmt('<div class="cards">{c}</div>', c=join(cards))]

    failed = data["failed_data"]
    body.append(fmt('<h2 id="needs-action">{t} <span class="muted">({n})</span></h2>', t=_("Needs your action"),
                    n=failed["total"]))
    body.append(fmt('<p class="muted">{t}</p>', t=_(
        "These records were not transferred because of their data. Correct them in the source system: the next "
        "change is transferred automatically.")))
    body.append(table(
        [_("Record"), _("Company"), _("Kind"), _("Field"), _("Value"), _("Problem"), _("What to do"), _("Updated")],
        ([_record_link(r), r["company"], _nowrap(r["kind"]),
          fmt('<code class="nowrap">{f}</code>', f=r["error_field"]),
          _clipped(_value(r["error_value"])),
          fmt("<strong>{c}</strong> {m}", c=r["error_code"], m=r["error_message"]),
          fmt('<span class="solution">{s}</span>', s=solution_text(r["error_code"], r["error_solution"])),
          when(r["updated_at"])]
         for r in failed["items"]), cls="needs-action", empty=_("No record needs a user's action.")))
    if failed["total"] > len(failed["items"]):
        body.append(link(url("/transfers", {"state": "failed-data"}), _("All {n} …").format(n=failed["total"])))

    config = data["failed_config"]
    if config["total"]:
        body.append(fmt('<h2 id="settings-refused">{t} <span class="muted">({n})</span></h2>',
                        t=_("Settings refused"), n=config["total"]))
        body.append(fmt('<p class="muted">{t}</p>', t=_(
            "An API refused the integration's credentials, scopes or API key. Fix the settings: these records are "
            "retried on every cycle and go through then.")))
        body.append(table(
            [_("Record"), _("Company"), _("Kind"), _("Problem"), _("What to do"), _("Updated")],
            ([_record_link(r), r["company"], _nowrap(r["kind"]),
              fmt("<strong>{c}</strong> {m}", c=r["error_code"], m=r["error_message"]),
              fmt('<span class="solution">{s}</span>', s=solution_text(r["error_code"], r["error_solution"])),
              when(r["updated_at"])]
             for r in config["items"]), cls="needs-action"))

    transient = data["failed_transient"]
    body.append(fmt('<h2>{t} <span class="muted">({n})</span></h2>', t=_("Retrying automatically"),
                    n=transient["total"]))
    body.append(table(
        [_("Record"), _("Company"), _("Kind"), _("Attempts"), _("Last error"), _("Updated")],
        ([_record_link(r), r["company"], r["kind"], r["attempts"],
          fmt("<strong>{c}</strong> {m}", c=r["error_code"], m=r["error_message"]), when(r["updated_at"])]
         for r in transient["items"]), empty=_("No transient failures.")))
    if can_act:
        body.append(_retry_companies(data["counts"]))

    body.append(fmt("<h2>{t}</h2>", t=_("Records by company and kind")))
    body.append(_pivot(data["counts"]))
    body.append(Safe('<div class="grid2"><div>'))
    body.append(fmt("<h2>{t}</h2>", t=_("Failures by code")))
    body.append(table([_("Kind"), _("State"), _("Code"), _("Records")],
                      ([r["kind"], state_badge(r["state"]), r["code"] or "–", r["count"]]
                       for r in data["failures_by_code"]), empty=_("No failures.")))
    body.append(Safe("</div><div>"))
    body.append(_projector(projector, lag, data))
    body.append(Safe("</div></div>"))
    return page(_("Overview"), join(body), active="/", now=data["now"], refresh=refresh)


def _retry_companies(counts: list[dict[str, Any]]) -> Safe:
    """A "retry now" button per company with transient failures (the worker retries them on its next cycle)."""
    waiting: dict[tuple[str, str], int] = defaultdict(int)
    for row in counts:
        if row["state"] == "failed-transient" and row["company"]:
            waiting[(row["tenant"], row["company"])] += row["count"]
    return join(action_form("/actions/retry-company", {"tenant": tenant, "company": company},
                            _("Retry now: {c}, {n} transient failures").format(c=company, n=n), cls="retry-company")
                for (tenant, company), n in sorted(waiting.items()))


def _pivot(counts: list[dict[str, Any]]) -> Safe:
    grouped: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in counts:
        grouped[(row["tenant"], row["company"] or "", row["kind"])][row["state"]] += row["count"]
    rows = []
    for (tenant, company, kind), states in sorted(grouped.items()):
        cells: list[Any] = [tenant, company, _nowrap(kind)]
        for state in STATES:
            n = states.get(state, 0)
            cells.append(link(url("/transfers", {"tenant": tenant, "company": company, "kind": kind,
                                                 "state": state}), n) if n else Safe('<span class="muted">0</span>'))
        cells.append(sum(states.values()))
        rows.append(cells)
    return table([_("Tenant"), _("Company"), _("Kind"), *STATES, _("Total")], rows, empty=_("No transfers yet."))


def _projector(info: dict[str, Any], lag: dict[str, Any] | None, data: dict[str, Any]) -> Safe:
    counters = info["counters"]
    day = data["activity"]["last_24h"]
    facts = [(_("Read model version"), info["version"]), (_("Last event"), when(info["last_event_at"])),
             (_("Records read"), counters.get("records", 0)), (_("Events applied"), counters.get("applied", 0)),
             (_("Duplicates ignored"), counters.get("duplicates", 0)),
             (_("Undecodable (skipped)"), counters.get("undecodable", 0)),
             (_("Observation errors, 24 h"), day.get("ObservationFailed", 0)),
             (_("Dead letters, 24 h"), day.get("DeadLetter", 0)),
             (_("All-time latency p50 / p95"), f"{seconds(data['latency']['all_time']['p50_seconds'])} / "
                                            f"{seconds(data['latency']['all_time']['p95_seconds'])}")]
    if lag is None:
        facts.append((_("Lag"), fmt('<span class="muted">{t}</span>',
                                    t=_("start the console with --bootstrap to see it"))))
    elif lag["error"]:
        facts.append((_("Lag"), fmt('<span class="badge state-failed-transient">{u}</span> {e}',
                                    u=_("Kafka unreachable"), e=lag["error"])))
    else:
        facts.append((_("Lag"), _("{n} offsets behind {b}").format(n=lag["total"], b=lag["bootstrap"])))
    dl = join(fmt("<dt>{k}</dt><dd>{v}</dd>", k=k, v=v) for k, v in facts)
    lag_by_partition = {(p["topic"], p["partition"]): p for p in (lag or {}).get("partitions") or []}
    keys = sorted({(o["topic"], o["partition"]) for o in info["offsets"]} | set(lag_by_partition))
    applied = {(o["topic"], o["partition"]): o["offset"] for o in info["offsets"]}
    offsets = table([_("Topic"), _("Partition"), _("Applied offset"), _("End offset"), _("Lag")],
                    ([t, p, applied.get((t, p), "–"), lag_by_partition.get((t, p), {}).get("end_offset", "–"),
                      lag_by_partition.get((t, p), {}).get("lag", "–")] for t, p in keys),
                    empty=_("Nothing applied yet."))
    return fmt('<h2>{h}</h2><dl class="facts">{dl}</dl><details><summary>{s}</summary>{t}</details>',
               h=_("Projector"), dl=dl, s=_("Offsets of {n} partitions").format(n=len(keys)), t=offsets)


# -- transfer log ------------------------------------------------------------------------------------------
def transfers(result: Page, params: dict[str, str], facets: dict[str, list[str]], now: str,
              can_act: bool = False) -> str:
    form = fmt(
        '<form class="filters" method="get" action="/transfers">{f}<button type="submit">{b}</button> {clear}'
        "</form>",
        f=join([select("company", facets["company"], params.get("company"), _("Company")),
                select("kind", facets["kind"], params.get("kind"), _("Kind")),
                select("state", facets["state"], params.get("state"), _("State")),
                select("tenant", facets["tenant"], params.get("tenant"), _("Tenant")),
                text_input("since", params.get("since"), _("Updated from"), "date"),
                text_input("until", params.get("until"), _("Updated before"), "date"),
                text_input("q", params.get("q"), _("Number or id"), placeholder=_("e.g. 1001"))]),
        b=_("Filter"), clear=link("/transfers", _("clear")))
    rows = []
    for e in result.items:
        procountor: Any = "–"
        if e["procountor_id"]:
            label = f"{systems_of(e['kind'])[1]} {e['procountor_id']}" + (
                _(" (no. {n})").format(n=e["procountor_number"]) if e["procountor_number"] else "")
            procountor = link(record_url(e["procountor_id"], e["tenant"]), label)
        failure = e["last_error"] if e["state"].startswith("failed") else None
        rows.append([when(e["updated_at"]), e["company"], _nowrap(e["kind"]), _record_link(e), procountor,
                     state_badge(e["state"]), e["attempt_count"], _problem(failure)])
    body = [fmt('<h1>{t} <span class="muted">({n})</span></h1>', t=_("Transfer log"), n=result.total), form]
    if can_act and result.total:
        selection = {k: v for k, v in params.items() if k != "per_page"}
        body.append(fmt('<p class="actions">{a} <span class="muted">{t}</span></p>',
                        a=link(url("/actions/reprocess", selection), _("Reprocess these…"), cls="button"),
                        t=_("Lists the {n} records of this filter and asks before requesting them again.").format(
                            n=result.total)))
    body += [table([_("Updated (UTC)"), _("Company"), _("Kind"), _("Record"), _("Became"), _("State"), _("Attempts"),
                    _("Reason")], rows, cls="log", empty=_("No record matches.")),
             _pager("/transfers", params, result)]
    return page(_("Transfer log"), join(body), active="/transfers", now=now)


def _pager(path: str, params: dict[str, str], result: Page) -> Safe:
    def to(n: int) -> str:
        return url(path, {**params, "page": n})

    prev = link(to(result.page - 1), _("← newer") if path == "/transfers" else _("← previous")) \
        if result.page > 1 else Safe("")
    nxt = link(to(result.page + 1), _("older →") if path == "/transfers" else _("next →")) \
        if result.page < result.pages else Safe("")
    return fmt('<div class="pager">{p}<span class="muted">{t}</span>{x}</div>', p=prev,
               t=_("page {n} of {m}").format(n=result.page, m=result.pages), x=nxt)


# -- one record --------------------------------------------------------------------------------------------
def record(ref: str, data: dict[str, Any], tenant: str | None, now: str, links: WebLinks | None = None,
           can_act: bool = False) -> str:
    body: list[Any] = [fmt("<h1>{h} <code>{r}</code>{t}</h1>", h=_("Record"), r=ref,
                           t=fmt(' <span class="muted">{t}</span>', t=_("in {t}").format(t=tenant)) if tenant else "")]
    if not data["transfers"] and not data["history"]:
        body.append(fmt('<p class="empty">{t} <code>{r}</code></p>', t=_("Nothing is known about this record:"), r=ref))
        return page(_("Not found"), join(body), now=now)
    for e in data["transfers"]:
        body.append(_transfer(e, links or WebLinks(), can_act))
    body.append(fmt('<h2>{h} <span class="muted">({n})</span></h2>', h=_("History"),
                    n=_("{n} events").format(n=len(data["history"]))))
    body.append(table(
        [_("At (UTC)"), _("Event"), _("What happened"), _("Event id"), _("Correlation id"), _("Causation id")],
        ([when(h["at"]), h["type"], _history_summary(h), fmt('<span class="id">{i}</span>', i=h["event_id"]),
          fmt('<span class="id">{i}</span>', i=h["correlation_id"]),
          fmt('<span class="id">{i}</span>', i=h["causation_id"])] for h in data["history"]),
        cls="history", empty=_("No events.")))
    return page(_("Record {r}").format(r=ref), join(body), now=now)


def _transfer(e: dict[str, Any], links: WebLinks, can_act: bool) -> Safe:
    severa = join([link(record_url(e["severa_id"], e["tenant"]), e["severa_number"] or e["severa_id"]),
                   fmt(' <span class="muted id">{i}</span>', i=e["severa_id"]) if e["severa_number"] else ""])
    procountor: Any = fmt('<span class="muted">{t}</span>', t=_("not yet"))
    if e["procountor_id"]:
        procountor = join([link(record_url(e["procountor_id"], e["tenant"]), e["procountor_id"]),
                           _(" (invoice no. {n})").format(n=e["procountor_number"]) if e["procountor_number"] else "",
                           _(" adopted (found already there)") if e["adopted"] else ""])
    facts = [(_("State"), state_badge(e["state"])), (_("Tenant / company"), f"{e['tenant']} / {e['company']}"),
             ("Severa", severa), ("Procountor", procountor), (_("Source version"), e["source_version"]),
             (_("Latest request"), fmt('<span class="id">{r}</span> ({why})', r=e["request_id"], why=e["reason"])),
             (_("First requested"), when(e["first_requested_at"])), (_("Updated"), when(e["updated_at"]))]
    opens = join(fmt('<a class="button" href="{h}" target="_blank" rel="noopener noreferrer">{t}</a>', h=href,
                     t=_(OPEN_IN[system])) for system, href in links.of(e))
    retry = Safe("")
    if e["state"] in RETRIABLE_STATES:
        retry = action_form("/actions/retry", {"tenant": e["tenant"], "kind": e["kind"], "source_id": e["severa_id"]},
                            _("Retry now"), cls="retry") if can_act else fmt(
            '<span class="muted">{t}</span>', t=_("Start the console with --bootstrap to retry from here."))
    out = [fmt("<h2>{k} {n}</h2>", k=e["kind"], n=e["severa_number"] or e["severa_id"]),
           fmt('<dl class="facts">{d}</dl>', d=join(fmt("<dt>{k}</dt><dd>{v}</dd>", k=k, v=v) for k, v in facts)),
           fmt('<div class="actions">{o}{r}</div>', o=opens, r=retry) if opens or retry else Safe("")]
    error = e["last_error"]
    if error and e["state"] == "failed-data":
        out.append(fmt('<div class="callout"><strong>{h}</strong>'
                       "<div>{lr} <code>{rec}</code>, {lf} <code>{f}</code>, {lv} <code>{v}</code></div>{p}</div>",
                       h=_("Not transferred: the data needs fixing."), lr=_("Record"), lf=_("field"), lv=_("value"),
                       rec=error.get("record"), f=error.get("field"), v=_value(error.get("value")), p=_problem(error)))
    elif error and e["state"] == "failed-config":
        out.append(fmt('<div class="callout"><strong>{h}</strong> {t}{p}</div>',
                       h=_("Not transferred: an API refused the integration's settings."),
                       t=_("It is retried on every cycle and goes through once they are fixed."), p=_problem(error)))
    elif error and e["state"] == "failed-transient":
        out.append(fmt('<div class="callout retry"><strong>{h}</strong>{p}</div>',
                       h=_("Will be retried automatically."), p=_problem(error)))
    elif e.get("note") and e["state"] == "succeeded":
        out.append(fmt('<div class="callout done"><strong>{h}</strong> {n}</div>', h=_("Nothing to write:"),
                       n=e["note"]))
    if e.get("warning"):
        out.append(fmt('<div class="callout retry"><strong>{h}</strong> {w}</div>', h=_("Check this invoice:"),
                       w=e["warning"]))
    out.append(fmt("<h3>{h}</h3>", h=_("Attempts")))
    out.append(table([_("Request"), _("Attempt"), _("First (UTC)"), _("Last (UTC)"), _("Result"), _("Steps"),
                      _("Error")],
                     ([fmt('<span class="id">{r}</span>', r=a["request_id"]), a["attempt"], when(a["first_at"]),
                       when(a["last_at"]), state_badge(a["result"]), ", ".join(a["steps"]),
                       _problem(a["error"], with_solution=False)] for a in e["attempts"]),
                     empty=_("No attempt yet.")))
    return join(out)


def _history_summary(event: dict[str, Any]) -> Safe:
    payload = json.dumps(event["payload"], indent=2, ensure_ascii=False, sort_keys=True)
    return fmt("{s}<details><summary>{e}</summary><pre>{p}</pre></details>", s=event["summary"], e=_("event"),
               p=payload)


# -- ID map ------------------------------------------------------------------------------------------------
def id_map(result: Page, params: dict[str, str], facets: dict[str, list[str]], now: str) -> str:
    form = fmt('<form class="filters" method="get" action="/ids">{f}<button type="submit">{b}</button> {c}</form>',
               f=join([select("kind", facets["link_kind"], params.get("kind"), _("Kind")),
                       select("company", facets["company"], params.get("company"), _("Company")),
                       select("tenant", facets["tenant"], params.get("tenant"), _("Tenant")),
                       text_input("q", params.get("q"), _("Key or id"), placeholder=_("e.g. customer number"))]),
               b=_("Filter"), c=link("/ids", _("clear")))
    rows = [[m["tenant"], m["company"], m["kind"], m["severa_key"],
             link(record_url(m["severa_id"], m["tenant"]), m["severa_id"], cls="id") if m["severa_id"] else "–",
             link(record_url(m["procountor_id"], m["tenant"]), m["procountor_id"]),
             _("created") if m["created"] else _("matched"), when(m["linked_at"])] for m in result.items]
    body = [fmt('<h1>{t} <span class="muted">({n})</span></h1>', t=_("ID map"), n=result.total), form,
            table([_("Tenant"), _("Company"), _("Kind"), _("Severa key"), _("Severa id"), _("Procountor id"), _("How"),
                   _("Linked (UTC)")], rows, empty=_("No link matches.")), _pager("/ids", params, result)]
    return page(_("ID map"), join(body), active="/ids", now=now)


# -- reprocess a selection -----------------------------------------------------------------------------------
def reprocess_confirm(entries: list[dict[str, Any]], total: int, limit: int, params: dict[str, str], now: str) -> str:
    """What a Reprocess of the filtered log would request again, and the button that does it."""
    back = link(url("/transfers", params), _("Cancel"))
    body: list[Any] = [fmt("<h1>{t}</h1>", t=_("Reprocess the selection?"))]
    if not entries:
        body.append(fmt('<p class="empty">{t}</p><p>{b}</p>', t=_("No record matches."), b=back))
        return page(_("Reprocess"), join(body), active="/transfers", now=now)
    if total > limit:
        body.append(fmt('<div class="callout"><strong>{h}</strong> {t}</div><p>{b}</p>',
                        h=_("Too many records."), t=_("{n} records match; at most {m} can be reprocessed at once. "
                                                      "Narrow the filter.").format(n=total, m=limit), b=back))
        return page(_("Reprocess"), join(body), active="/transfers", now=now)
    body.append(fmt('<p>{t}</p>', t=_(
        "Each record below is requested again with its latest data, as sevpro reprocess does, in your name. "
        "The worker skips what is already in the target system, so nothing is written twice.")))
    records = join(fmt('<input type="hidden" name="record" value="{v}">', v=record_key(e)) for e in entries)
    body.append(fmt('<form class="confirm" method="post" action="{a}">{csrf}{r}<button type="submit">{b}</button> {c}'
                    "</form>", a=url("/actions/reprocess", params), csrf=csrf_field(), r=records,
                    b=_("Reprocess {n}").format(n=len(entries)), c=back))
    body.append(table([_("Updated (UTC)"), _("Company"), _("Kind"), _("Record"), _("State"), _("Reason")],
                      ([when(e["updated_at"]), e["company"], _nowrap(e["kind"]), _record_link(e),
                        state_badge(e["state"]),
                        _problem(e["last_error"] if e["state"].startswith("failed") else None, with_solution=False)]
                       for e in entries), cls="reprocess"))
    return page(_("Reprocess"), join(body), active="/transfers", now=now)


def error_page(status: int, message: str, now: str) -> str:
    return page(_("Error"), fmt('<h1>{s}</h1><p>{m}</p><p><a href="/">{b}</a></p>', s=status, m=message,
                                b=_("Back to the overview")), now=now)


def login(next_path: str, error: str | None, name: str = "") -> str:
    """The sign-in form; `error` says why the last try was refused."""
    problem = fmt('<div class="callout bad" role="alert">{e}</div>', e=error) if error else Safe("")
    form = fmt(
        '<form class="login" method="post" action="/login">{csrf}<input type="hidden" name="next" value="{n}">'
        '<label>{lu}<input name="username" autocomplete="username" value="{u}" required autofocus></label>'
        '<label>{lp}<input type="password" name="password" autocomplete="current-password" required>'
        '</label><button type="submit">{s}</button></form>', csrf=csrf_field(), n=next_path, u=name, lu=_("User"),
        lp=_("Password"), s=_("Sign in"))
    return page(_("Sign in"), join([fmt("<h1>{t}</h1>", t=_("Sign in")), problem, form]), bare=True)
