"""The console's pages, from the query results (pure functions: data in, escaped HTML out)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from console.html import (
    Safe,
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
from console.queries import Page
from projections.apply import STATES, systems_of

STATE_TITLES = {"failed-data": "Needs your action", "failed-config": "Settings refused",
                "failed-transient": "Retrying automatically",
                "pending": "Pending", "succeeded": "Succeeded"}


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
        out = Safe(out + fmt('<div class="solution">→ {s}</div>', s=error["solution"]))
    return out


def _nowrap(text: Any) -> Safe:
    return fmt('<span class="nowrap">{t}</span>', t=text)


def _clipped(value: str) -> Safe:
    """A value shortened on screen (a 130-character row text would push the problem and the solution out of the
    window); the whole value on hover, and on the record page."""
    return fmt('<code class="clip" title="{v}">{v}</code>', v=value)


def _value(value: Any) -> str:
    return "(empty)" if value in (None, "") else str(value)


def _error_of(row: dict[str, Any]) -> dict[str, Any]:
    """The error columns of a failures row as an error dict."""
    return {k: row.get(f"error_{k}") for k in ("code", "kind", "record", "field", "value", "message", "solution")}


# -- overview ----------------------------------------------------------------------------------------------
def overview(data: dict[str, Any], lag: dict[str, Any] | None, refresh: int | None) -> str:
    totals: dict[str, int] = defaultdict(int)
    for row in data["counts"]:
        totals[row["state"]] += row["count"]
    hour, day = data["activity"]["last_hour"], data["activity"]["last_24h"]
    latency = data["latency"]["last_24h"]
    projector = data["projector"]
    oldest = data["oldest_pending"]
    cards = [
        _card("Needs action", totals["failed-data"], "failed-data records", "bad" if totals["failed-data"] else "",
              url("/transfers", {"state": "failed-data"})),
        _card("Settings refused", totals["failed-config"], "failed-config records",
              "bad" if totals["failed-config"] else "", url("/transfers", {"state": "failed-config"})),
        _card("Retrying", totals["failed-transient"], "failed-transient records",
              "retry" if totals["failed-transient"] else "", url("/transfers", {"state": "failed-transient"})),
        _card("Pending", totals["pending"], fmt("oldest since {t}", t=when(oldest["updated_at"])) if oldest else
              "none waiting", "warn" if totals["pending"] else "", url("/transfers", {"state": "pending"})),
        _card("Succeeded", totals["succeeded"], f"of {sum(totals.values())} records", "ok",
              url("/transfers", {"state": "succeeded"})),
        _card("Requests, last hour", hour.get("requests", 0), f"{day.get('requests', 0)} in 24 h"),
        _card("Succeeded, last hour", hour.get("succeeded", 0) + hour.get("skipped", 0),
              f"{day.get('succeeded', 0) + day.get('skipped', 0)} in 24 h"),
        _card("Failed, last hour",
              hour.get("failed_data", 0) + hour.get("failed_config", 0) + hour.get("failed_transient", 0),
              f"{hour.get('failed_data', 0)} data, {hour.get('failed_config', 0)} settings, "
              f"{hour.get('failed_transient', 0)} transient"),
        _card("Latency p50", seconds(latency["p50_seconds"]), f"request → succeeded, {latency['count']} in 24 h"),
        _card("Latency p95", seconds(latency["p95_seconds"]), f"max {seconds(latency['max_seconds'])}"),
    ]
    body = [Safe("<h1>Overview</h1>"), fmt('<div class="cards">{c}</div>', c=join(cards))]

    failed = data["failed_data"]
    body.append(fmt('<h2 id="needs-action">Needs your action <span class="muted">({n})</span></h2>',
                    n=failed["total"]))
    body.append(Safe('<p class="muted">These records were not transferred because of their data. Correct them in '
                     "the source system: the next change is transferred automatically.</p>"))
    body.append(table(
        ["Record", "Company", "Kind", "Field", "Value", "Problem", "What to do", "Updated"],
        ([_record_link(r), r["company"], _nowrap(r["kind"]),
          fmt('<code class="nowrap">{f}</code>', f=r["error_field"]),
          _clipped(_value(r["error_value"])),
          fmt("<strong>{c}</strong> {m}", c=r["error_code"], m=r["error_message"]),
          fmt('<span class="solution">{s}</span>', s=r["error_solution"]), when(r["updated_at"])]
         for r in failed["items"]), cls="needs-action", empty="No record needs a user's action."))
    if failed["total"] > len(failed["items"]):
        body.append(link(url("/transfers", {"state": "failed-data"}), f"All {failed['total']} …"))

    config = data["failed_config"]
    if config["total"]:
        body.append(fmt('<h2 id="settings-refused">Settings refused <span class="muted">({n})</span></h2>',
                        n=config["total"]))
        body.append(Safe('<p class="muted">An API refused the integration\'s credentials, scopes or API key. Fix '
                         "the settings: these records are retried on every cycle and go through then.</p>"))
        body.append(table(
            ["Record", "Company", "Kind", "Problem", "What to do", "Updated"],
            ([_record_link(r), r["company"], _nowrap(r["kind"]),
              fmt("<strong>{c}</strong> {m}", c=r["error_code"], m=r["error_message"]),
              fmt('<span class="solution">{s}</span>', s=r["error_solution"]), when(r["updated_at"])]
             for r in config["items"]), cls="needs-action"))

    transient = data["failed_transient"]
    body.append(fmt('<h2>Retrying automatically <span class="muted">({n})</span></h2>', n=transient["total"]))
    body.append(table(
        ["Record", "Company", "Kind", "Attempts", "Last error", "Updated"],
        ([_record_link(r), r["company"], r["kind"], r["attempts"],
          fmt("<strong>{c}</strong> {m}", c=r["error_code"], m=r["error_message"]), when(r["updated_at"])]
         for r in transient["items"]), empty="No transient failures."))

    body.append(Safe("<h2>Records by company and kind</h2>"))
    body.append(_pivot(data["counts"]))
    body.append(Safe('<div class="grid2"><div>'))
    body.append(Safe("<h2>Failures by code</h2>"))
    body.append(table(["Kind", "State", "Code", "Records"],
                      ([r["kind"], state_badge(r["state"]), r["code"] or "–", r["count"]]
                       for r in data["failures_by_code"]), empty="No failures."))
    body.append(Safe("</div><div>"))
    body.append(_projector(projector, lag, data))
    body.append(Safe("</div></div>"))
    return page("Overview", join(body), active="/", now=data["now"], refresh=refresh)


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
    return table(["Tenant", "Company", "Kind", *STATES, "Total"], rows, empty="No transfers yet.")


def _projector(info: dict[str, Any], lag: dict[str, Any] | None, data: dict[str, Any]) -> Safe:
    counters = info["counters"]
    day = data["activity"]["last_24h"]
    facts = [("Read model version", info["version"]), ("Last event", when(info["last_event_at"])),
             ("Records read", counters.get("records", 0)), ("Events applied", counters.get("applied", 0)),
             ("Duplicates ignored", counters.get("duplicates", 0)),
             ("Undecodable (skipped)", counters.get("undecodable", 0)),
             ("Observation errors, 24 h", day.get("ObservationFailed", 0)),
             ("Dead letters, 24 h", day.get("DeadLetter", 0)),
             ("All-time latency p50 / p95", f"{seconds(data['latency']['all_time']['p50_seconds'])} / "
                                            f"{seconds(data['latency']['all_time']['p95_seconds'])}")]
    if lag is None:
        facts.append(("Lag", Safe('<span class="muted">start the console with --bootstrap to see it</span>')))
    elif lag["error"]:
        facts.append(("Lag", fmt('<span class="badge state-failed-transient">Kafka unreachable</span> {e}',
                                 e=lag["error"])))
    else:
        facts.append(("Lag", f"{lag['total']} offsets behind {lag['bootstrap']}"))
    dl = join(fmt("<dt>{k}</dt><dd>{v}</dd>", k=k, v=v) for k, v in facts)
    lag_by_partition = {(p["topic"], p["partition"]): p for p in (lag or {}).get("partitions") or []}
    keys = sorted({(o["topic"], o["partition"]) for o in info["offsets"]} | set(lag_by_partition))
    applied = {(o["topic"], o["partition"]): o["offset"] for o in info["offsets"]}
    offsets = table(["Topic", "Partition", "Applied offset", "End offset", "Lag"],
                    ([t, p, applied.get((t, p), "–"), lag_by_partition.get((t, p), {}).get("end_offset", "–"),
                      lag_by_partition.get((t, p), {}).get("lag", "–")] for t, p in keys),
                    empty="Nothing applied yet.")
    return fmt('<h2>Projector</h2><dl class="facts">{dl}</dl><details><summary>Offsets of {n} partitions'
               "</summary>{t}</details>", dl=dl, n=len(keys), t=offsets)


# -- transfer log ------------------------------------------------------------------------------------------
def transfers(result: Page, params: dict[str, str], facets: dict[str, list[str]], now: str) -> str:
    form = fmt(
        '<form class="filters" method="get" action="/transfers">{f}<button type="submit">Filter</button> {clear}'
        "</form>",
        f=join([select("company", facets["company"], params.get("company"), "Company"),
                select("kind", facets["kind"], params.get("kind"), "Kind"),
                select("state", facets["state"], params.get("state"), "State"),
                select("tenant", facets["tenant"], params.get("tenant"), "Tenant"),
                text_input("since", params.get("since"), "Updated from", "date"),
                text_input("until", params.get("until"), "Updated before", "date"),
                text_input("q", params.get("q"), "Number or id", placeholder="e.g. 1001")]),
        clear=link("/transfers", "clear"))
    rows = []
    for e in result.items:
        procountor: Any = "–"
        if e["procountor_id"]:
            label = f"{systems_of(e['kind'])[1]} {e['procountor_id']}" + (
                f" (no. {e['procountor_number']})" if e["procountor_number"] else "")
            procountor = link(record_url(e["procountor_id"], e["tenant"]), label)
        failure = e["last_error"] if e["state"].startswith("failed") else None
        rows.append([when(e["updated_at"]), e["company"], _nowrap(e["kind"]), _record_link(e), procountor,
                     state_badge(e["state"]), e["attempt_count"], _problem(failure)])
    body = [fmt("<h1>Transfer log <span class=\"muted\">({n})</span></h1>", n=result.total), form,
            table(["Updated (UTC)", "Company", "Kind", "Record", "Became", "State", "Attempts", "Reason"],
                  rows, cls="log", empty="No record matches."),
            _pager("/transfers", params, result)]
    return page("Transfer log", join(body), active="/transfers", now=now)


def _pager(path: str, params: dict[str, str], result: Page) -> Safe:
    def to(n: int) -> str:
        return url(path, {**params, "page": n})

    prev = link(to(result.page - 1), "← newer" if path == "/transfers" else "← previous") \
        if result.page > 1 else Safe("")
    nxt = link(to(result.page + 1), "older →" if path == "/transfers" else "next →") \
        if result.page < result.pages else Safe("")
    return fmt('<div class="pager">{p}<span class="muted">page {n} of {m}</span>{x}</div>', p=prev, n=result.page,
               m=result.pages, x=nxt)


# -- one record --------------------------------------------------------------------------------------------
def record(ref: str, data: dict[str, Any], tenant: str | None, now: str) -> str:
    body: list[Any] = [fmt("<h1>Record <code>{r}</code>{t}</h1>", r=ref,
                           t=fmt(' <span class="muted">in {t}</span>', t=tenant) if tenant else "")]
    if not data["transfers"] and not data["history"]:
        body.append(fmt('<p class="empty">Nothing is known about <code>{r}</code>.</p>', r=ref))
        return page("Not found", join(body), now=now)
    for e in data["transfers"]:
        body.append(_transfer(e))
    body.append(fmt("<h2>History <span class=\"muted\">({n} events)</span></h2>", n=len(data["history"])))
    body.append(table(
        ["At (UTC)", "Event", "What happened", "Event id", "Correlation id", "Causation id"],
        ([when(h["at"]), h["type"], _history_summary(h), fmt('<span class="id">{i}</span>', i=h["event_id"]),
          fmt('<span class="id">{i}</span>', i=h["correlation_id"]),
          fmt('<span class="id">{i}</span>', i=h["causation_id"])] for h in data["history"]),
        cls="history", empty="No events."))
    return page(f"Record {ref}", join(body), now=now)


def _transfer(e: dict[str, Any]) -> Safe:
    severa = join([link(record_url(e["severa_id"], e["tenant"]), e["severa_number"] or e["severa_id"]),
                   fmt(' <span class="muted id">{i}</span>', i=e["severa_id"]) if e["severa_number"] else ""])
    procountor: Any = Safe('<span class="muted">not yet</span>')
    if e["procountor_id"]:
        procountor = join([link(record_url(e["procountor_id"], e["tenant"]), e["procountor_id"]),
                           f" (invoice no. {e['procountor_number']})" if e["procountor_number"] else "",
                           " adopted (found already there)" if e["adopted"] else ""])
    facts = [("State", state_badge(e["state"])), ("Tenant / company", f"{e['tenant']} / {e['company']}"),
             ("Severa", severa), ("Procountor", procountor), ("Source version", e["source_version"]),
             ("Latest request", fmt('<span class="id">{r}</span> ({why})', r=e["request_id"], why=e["reason"])),
             ("First requested", when(e["first_requested_at"])), ("Updated", when(e["updated_at"]))]
    out = [fmt("<h2>{k} {n}</h2>", k=e["kind"], n=e["severa_number"] or e["severa_id"]),
           fmt('<dl class="facts">{d}</dl>', d=join(fmt("<dt>{k}</dt><dd>{v}</dd>", k=k, v=v) for k, v in facts))]
    error = e["last_error"]
    if error and e["state"] == "failed-data":
        out.append(fmt('<div class="callout"><strong>Not transferred: the data needs fixing.</strong>'
                       "<div>Record <code>{rec}</code>, field <code>{f}</code>, value <code>{v}</code></div>{p}</div>",
                       rec=error.get("record"), f=error.get("field"), v=_value(error.get("value")), p=_problem(error)))
    elif error and e["state"] == "failed-config":
        out.append(fmt('<div class="callout"><strong>Not transferred: an API refused the integration\'s settings.'
                       "</strong> It is retried on every cycle and goes through once they are fixed.{p}</div>",
                       p=_problem(error)))
    elif error and e["state"] == "failed-transient":
        out.append(fmt('<div class="callout retry"><strong>Will be retried automatically.</strong>{p}</div>',
                       p=_problem(error)))
    elif e.get("note") and e["state"] == "succeeded":
        out.append(fmt('<div class="callout done"><strong>Nothing to write:</strong> {n}</div>', n=e["note"]))
    if e.get("warning"):
        out.append(fmt('<div class="callout retry"><strong>Check this invoice:</strong> {w}</div>', w=e["warning"]))
    out.append(Safe("<h3>Attempts</h3>"))
    out.append(table(["Request", "Attempt", "First (UTC)", "Last (UTC)", "Result", "Steps", "Error"],
                     ([fmt('<span class="id">{r}</span>', r=a["request_id"]), a["attempt"], when(a["first_at"]),
                       when(a["last_at"]), state_badge(a["result"]), ", ".join(a["steps"]),
                       _problem(a["error"], with_solution=False)] for a in e["attempts"]),
                     empty="No attempt yet."))
    return join(out)


def _history_summary(event: dict[str, Any]) -> Safe:
    payload = json.dumps(event["payload"], indent=2, ensure_ascii=False, sort_keys=True)
    return fmt("{s}<details><summary>event</summary><pre>{p}</pre></details>", s=event["summary"], p=payload)


# -- ID map ------------------------------------------------------------------------------------------------
def id_map(result: Page, params: dict[str, str], facets: dict[str, list[str]], now: str) -> str:
    form = fmt('<form class="filters" method="get" action="/ids">{f}<button type="submit">Filter</button> {c}</form>',
               f=join([select("kind", facets["link_kind"], params.get("kind"), "Kind"),
                       select("company", facets["company"], params.get("company"), "Company"),
                       select("tenant", facets["tenant"], params.get("tenant"), "Tenant"),
                       text_input("q", params.get("q"), "Key or id", placeholder="e.g. customer number")]),
               c=link("/ids", "clear"))
    rows = [[m["tenant"], m["company"], m["kind"], m["severa_key"],
             link(record_url(m["severa_id"], m["tenant"]), m["severa_id"], cls="id") if m["severa_id"] else "–",
             link(record_url(m["procountor_id"], m["tenant"]), m["procountor_id"]),
             "created" if m["created"] else "matched", when(m["linked_at"])] for m in result.items]
    body = [fmt('<h1>ID map <span class="muted">({n})</span></h1>', n=result.total), form,
            table(["Tenant", "Company", "Kind", "Severa key", "Severa id", "Procountor id", "How", "Linked (UTC)"],
                  rows, empty="No link matches."), _pager("/ids", params, result)]
    return page("ID map", join(body), active="/ids", now=now)


def error_page(status: int, message: str, now: str) -> str:
    return page("Error", fmt('<h1>{s}</h1><p>{m}</p><p><a href="/">Back to the overview</a></p>', s=status,
                             m=message), now=now)


def login(next_path: str, error: str | None, name: str = "") -> str:
    """The sign-in form; `error` says why the last try was refused."""
    problem = fmt('<div class="callout bad" role="alert">{e}</div>', e=error) if error else Safe("")
    form = fmt(
        '<form class="login" method="post" action="/login">{csrf}<input type="hidden" name="next" value="{n}">'
        '<label>User<input name="username" autocomplete="username" value="{u}" required autofocus></label>'
        '<label>Password<input type="password" name="password" autocomplete="current-password" required>'
        '</label><button type="submit">Sign in</button></form>', csrf=csrf_field(), n=next_path, u=name)
    return page("Sign in", join([Safe("<h1>Sign in</h1>"), problem, form]), bare=True)
