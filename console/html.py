"""Small, escaping HTML helpers (no template engine is installed, and the pages are simple enough without one).

Every value goes through `esc`, which returns `Safe`; only `Safe` strings are inserted unescaped. Build markup
with `fmt(template, **values)`: the template is ours, the values are escaped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from console.auth import CSRF_FIELD, current_csrf, current_user
from foundation.i18n import LANGUAGE_NAMES, N_, _, current_language

#: The notice of the action just done, shown once on the page it redirected to (set by console.actions.ShowNotice).
current_notice: ContextVar[str | None] = ContextVar("console_notice", default=None)


class Safe(str):
    """Markup that is already escaped."""

    __slots__ = ()


def esc(value: Any) -> Safe:
    if isinstance(value, Safe):
        return value
    if value is None:
        return Safe("")
    return Safe(html.escape(str(value), quote=True))


def fmt(template: str, **values: Any) -> Safe:
    return Safe(template.format(**{k: esc(v) for k, v in values.items()}))


def join(parts: Iterable[Any], sep: str = "") -> Safe:
    return Safe(sep.join(esc(p) for p in parts))


def url(path: str, params: Mapping[str, Any] | None = None) -> str:
    """A link with query parameters (empty ones left out); escape it with `esc` when inserting it."""
    query = {k: v for k, v in (params or {}).items() if v not in (None, "")}
    return path + ("?" + urlencode(query) if query else "")


def record_url(ref: str, tenant: str | None = None) -> str:
    return url("/records/" + quote(ref, safe=""), {"tenant": tenant})


def link(href: str, text: Any, cls: str | None = None, title: str | None = None) -> Safe:
    attrs = fmt(' class="{c}"', c=cls) if cls else Safe("")
    if title:
        attrs = Safe(attrs + fmt(' title="{t}"', t=title))
    return fmt('<a href="{href}"{attrs}>{text}</a>', href=href, attrs=attrs, text=text)


def when(value: str | None) -> Safe:
    """An ISO time as `YYYY-MM-DD HH:MM:SS` (UTC), the full value in the tooltip."""
    if not value:
        return Safe('<span class="muted">–</span>')
    try:
        parsed = datetime.fromisoformat(value)
        short = parsed.strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        short = value
    return fmt('<time datetime="{v}" title="{v}">{s}</time>', v=value, s=short)


def seconds(value: float | None) -> str:
    """1.2 s, 3 min 05 s, 2 h 10 min."""
    if value is None:
        return "–"
    if value < 60:
        return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"
    minutes, secs = divmod(int(round(value)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def state_badge(state: str | None) -> Safe:
    return fmt('<span class="badge state-{s}">{s}</span>', s=state or "unknown")


def table(headers: Iterable[Any], rows: Iterable[Iterable[Any]], cls: str = "", empty: str | None = None) -> Safe:
    head = join(fmt("<th>{h}</th>", h=h) for h in headers)
    body = [Safe("<tr>" + join(fmt("<td>{c}</td>", c=c) for c in row) + "</tr>") for row in rows]
    if not body:
        return fmt('<p class="empty">{e}</p>', e=empty or _("Nothing here."))
    return fmt('<div class="scroll"><table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
               "</table></div>", cls=cls, head=head, body=join(body))


def select(name: str, options: Iterable[str], selected: str | None, label: str) -> Safe:
    opts = [fmt('<option value="">{a}</option>', a=_("all"))]
    opts += [fmt('<option value="{v}"{sel}>{v}</option>', v=o, sel=Safe(" selected") if o == selected else "")
             for o in options]
    return fmt('<label>{label}<select name="{n}">{o}</select></label>', label=label, n=name, o=join(opts))


def text_input(name: str, value: Any, label: str, kind: str = "text", placeholder: str = "") -> Safe:
    return fmt('<label>{label}<input type="{k}" name="{n}" value="{v}" placeholder="{p}"></label>',
               label=label, k=kind, n=name, v=value or "", p=placeholder)


NAV = (("/", N_("Overview")), ("/transfers", N_("Transfer log")), ("/ids", N_("ID map")),
       ("/settings", N_("Settings")), ("/metrics", N_("Metrics")))

CSS = """
:root{--fg:#1f2933;--muted:#66788a;--line:#dde3ea;--bg:#f6f8fa;--card:#fff;--accent:#1d5fa8;
--ok:#1a7f37;--warn:#9a6700;--bad:#c4291c;--retry:#8250df}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#17324d;color:#fff;padding:0 24px;display:flex;align-items:center;gap:24px;height:48px}
header .brand{font-weight:600;letter-spacing:.2px;white-space:nowrap}header form.who{white-space:nowrap}
header nav a{color:#cfe0f1;text-decoration:none;margin-right:16px;padding:14px 0;white-space:nowrap}
header nav a.active,header nav a:hover{color:#fff;border-bottom:2px solid #fff}
header .search{margin-left:auto}header .brand+nav.lang{margin-left:auto}
header .search input{font:inherit;font-size:13px;padding:3px 8px;border-radius:4px;border:1px solid #3d5a78;
background:#22405f;color:#fff;width:200px}header .search input::placeholder{color:#9fb6cc}
header .when{color:#9fb6cc;font-size:12px}
header nav.lang a{font-size:12px;margin-right:8px;padding:0}header nav.lang a[aria-current]{color:#fff;
font-weight:600;border-bottom:none}
main{padding:20px 24px;max-width:1400px}
h1{font-size:20px;margin:0 0 14px}h2{font-size:16px;margin:26px 0 10px}h3{font-size:14px;margin:16px 0 8px}
a{color:var(--accent)}
.muted{color:var(--muted)}.empty{color:var(--muted);font-style:italic}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:10px 14px}
.card .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.4px}
.card .value{font-size:24px;font-weight:600;margin-top:2px}
.card .sub{color:var(--muted);font-size:12px}
.card.bad .value{color:var(--bad)}.card.warn .value{color:var(--warn)}.card.ok .value{color:var(--ok)}
.card.retry .value{color:var(--retry)}
.scroll{overflow-x:auto;background:var(--card);border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#eef2f6;font-weight:600;font-size:12px;color:#3e4c59;white-space:nowrap}
tbody tr:last-child td{border-bottom:none}tbody tr:hover{background:#f9fbfd}
td.num,th.num{text-align:right}
time,.nowrap{white-space:nowrap}
.card .value a{color:inherit;text-decoration:none}.card:hover{border-color:#b7c3cf}
code,.id{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
.id{word-break:break-all}
.clip{display:inline-block;max-width:16em;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;
vertical-align:bottom}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;white-space:nowrap}
.state-succeeded,.state-skipped{background:#dafbe1;color:var(--ok)}
.state-pending,.state-attempting,.state-step{background:#fff8c5;color:var(--warn)}
.state-failed-data,.state-failed_data{background:#ffebe9;color:var(--bad)}
.state-failed-config,.state-failed_config{background:#fff4e5;color:var(--bad)}
.state-failed-transient,.state-failed_transient{background:#fbefff;color:var(--retry)}
.solution{color:#0b4f8a;font-weight:500}
.problem{margin-bottom:2px}
.callout{background:#fff5f4;border:1px solid #f5c2bd;border-left:4px solid var(--bad);border-radius:6px;
padding:10px 14px;margin:10px 0}
.callout.retry{background:#fbf7ff;border-color:#e1d0fa;border-left-color:var(--retry)}
.callout.done{background:#f0fbf3;border-color:#b7e4c3;border-left-color:var(--ok)}
.callout .solution{margin-top:6px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0;background:var(--card);
border:1px solid var(--line);border-radius:6px;padding:10px 14px}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}
form.filters{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-end;background:var(--card);
border:1px solid var(--line);border-radius:6px;padding:10px 14px;margin-bottom:14px}
form.filters label{display:flex;flex-direction:column;font-size:12px;color:var(--muted);gap:3px}
form.filters input,form.filters select{font:inherit;padding:4px 6px;border:1px solid #c5ced8;border-radius:4px;
min-width:130px;background:#fff}
button{font:inherit;padding:5px 14px;border:1px solid var(--accent);background:var(--accent);color:#fff;
border-radius:4px;cursor:pointer}
.pager{margin:10px 0;display:flex;gap:12px;align-items:center}
details summary{cursor:pointer;color:var(--accent)}
pre{white-space:pre-wrap;word-break:break-all;font-size:12px;background:#f3f5f7;padding:8px;border-radius:4px;
margin:6px 0 0}
header form.who{display:flex;gap:8px;align-items:center;font-size:13px;color:#cfe0f1}
button.link{background:none;border:none;color:#cfe0f1;padding:0;text-decoration:underline}
form.login{max-width:340px;display:flex;flex-direction:column;gap:10px;background:var(--card);
border:1px solid var(--line);border-radius:6px;padding:18px}
form.login label{display:flex;flex-direction:column;gap:3px;font-size:13px;color:var(--muted)}
form.login input{font:inherit;padding:6px 8px;border:1px solid #c5ced8;border-radius:4px}
form.action{display:inline-block;margin:0}.actions{display:flex;flex-wrap:wrap;gap:10px;align-items:center;
margin:10px 0}a.button{display:inline-block;padding:5px 14px;border:1px solid var(--accent);border-radius:4px;
background:#fff;text-decoration:none}form.confirm{margin:12px 0;display:flex;gap:14px;align-items:center}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:0 24px}
"""


def page(title: str, body: Safe, active: str = "", now: str | None = None, refresh: int | None = None,
         bare: bool = False) -> str:
    """A whole page; `bare` (the login page) leaves out the navigation, the search and the signed-in user."""
    nav = join(link(href, _(text), cls="active" if href == active else None) for href, text in NAV)
    head_extra = fmt('<meta http-equiv="refresh" content="{r}">', r=refresh) if refresh else Safe("")
    stamp = fmt('<span class="when">{s}</span>', s=_("as of {n} UTC").format(n=now[:19].replace("T", " "))) \
        if now else Safe("")
    tools = _language_choice() if bare else fmt(
        '<nav>{nav}</nav><form class="search" method="get" action="/search"><input name="q"'
        ' placeholder="{p}" aria-label="{a}"></form>{stamp}{lang}{who}',
        nav=nav, p=_("Find number or id"), a=_("Find a record by number or id"), stamp=stamp,
        lang=_language_choice(), who=_signed_in())
    return fmt(
        '<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">{extra}'
        "<title>{title} · sevpro</title><style>{css}</style></head><body>"
        '<header><span class="brand">Severa ⇄ Procountor</span>{tools}</header>'
        "<main>{notice}{body}</main></body></html>",
        lang=current_language.get(), extra=head_extra, title=title, css=Safe(CSS), tools=tools, body=body,
        notice=_notice())


def _notice() -> Safe:
    """What the action just done asked for (console.actions puts it in the session for the next page)."""
    text = current_notice.get()
    return fmt('<div class="callout done" role="status">{t}</div>', t=text) if text else Safe("")


def action_form(action: str, fields: Mapping[str, Any], label: str, cls: str) -> Safe:
    """A button that changes something: a POST form with its fields and the CSRF token (console.actions)."""
    hidden = join(fmt('<input type="hidden" name="{n}" value="{v}">', n=name, v=value)
                  for name, value in fields.items())
    return fmt('<form class="action {c}" method="post" action="{a}">{t}{h}<button type="submit">{b}</button></form>',
               c=cls, a=action, t=csrf_field(), h=hidden, b=label)


def csrf_field() -> Safe:
    """The hidden CSRF token every form that changes something must carry (checked by console.auth)."""
    return fmt('<input type="hidden" name="{n}" value="{v}">', n=CSRF_FIELD, v=current_csrf.get() or "")


def _signed_in() -> Safe:
    user = current_user.get()
    if not user:
        return Safe("")
    return fmt('<form class="who" method="post" action="/logout"><span class="user">{u}</span>{t}'
               '<button type="submit" class="link">{s}</button></form>', u=user, t=csrf_field(), s=_("Sign out"))


def _language_choice() -> Safe:
    """The user's language: links to the same page with ?lang=, which console.app remembers in a cookie."""
    chosen = current_language.get()
    links = join(fmt('<a href="?lang={v}" hreflang="{v}" lang="{v}"{cur}>{n}</a>', v=code, n=name,
                     cur=Safe(' aria-current="true"') if code == chosen else "")
                 for code, name in LANGUAGE_NAMES.items())
    return fmt('<nav class="lang" aria-label="{a}">{links}</nav>', a=_("Language"), links=links)
