"""What a browser would send from a console page's form: its inputs, checked boxes, chosen options and text
areas, read from the HTML (so the tests post what the page shows, not what they assume it shows)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any


class _Form(HTMLParser):
    def __init__(self, action: str) -> None:
        super().__init__()
        self.action, self.inside, self.fields = action, False, []  # type: ignore[var-annotated]
        self._select: str | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a: dict[str, Any] = dict(attrs)
        if tag == "form" and a.get("action") == self.action and a.get("method") == "post":
            self.inside = True
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((a["name"], a.get("value", "on")))
            elif kind not in ("submit", "button"):
                self.fields.append((a["name"], a.get("value") or ""))
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.fields.append((self._select, a.get("value") or ""))
        elif tag == "textarea":
            self._textarea, self._text = a.get("name"), ""

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.fields.append((self._textarea, self._text))
            self._textarea = None
        elif tag == "form" and self.inside:
            self.inside = False


def form_fields(html: str, action: str) -> list[tuple[str, str]]:
    """The (name, value) pairs the POST form with this action would send, in page order."""
    parser = _Form(action)
    parser.feed(html)
    assert parser.fields, f"no POST form with action {action!r} on the page"
    return parser.fields


def replaced(fields: list[tuple[str, str]], **changes: str | None) -> list[tuple[str, str]]:
    """The fields with some values changed (names with '.' given with '__'); None removes a field (an unticked
    checkbox)."""
    wanted = {k.replace("__", "."): v for k, v in changes.items()}
    out = [(k, wanted[k] if k in wanted else v) for k, v in fields if not (k in wanted and wanted[k] is None)]
    out += [(k, v) for k, v in wanted.items() if v is not None and k not in {n for n, _ in fields}]
    return out


def as_data(fields: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Form fields as httpx's `data` (a name given more than once, as the statuses' checkboxes, keeps each value)."""
    grouped: dict[str, list[str]] = {}
    for name, value in fields:
        grouped.setdefault(name, []).append(value)
    return grouped
