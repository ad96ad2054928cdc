"""The message catalogues' upkeep: which texts need a translation, and adding new ones to the .po files.

`python -m sevpro.catalogues` adds every message id the code uses to foundation/locales/{fi,sv,en} (with an
empty translation to fill in; English gets the id itself), keeps the translations there, and marks ids no
longer used as obsolete.
tests/unit/i18n/test_catalogues.py fails while any id lacks a translation in any language.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

from foundation.i18n import LANGUAGES, catalogue_path
from streams.mapping.errors import SIZE_SOLUTION, SOLUTIONS

ROOT = Path(__file__).resolve().parent.parent
# The code whose texts are translated: the console, the error e-mails (and the solutions, below).
SOURCES = (*sorted((ROOT / "console").glob("*.py")), ROOT / "streams" / "notify.py",
           ROOT / "streams" / "notification_text.py")
HEADER = ("# The {language} texts of severa-procountor's console, error e-mails and solutions.\n"
          "# Update with `python -m sevpro.catalogues`, then fill in every empty msgstr.")
PLACEHOLDER = re.compile(r"\{\w*\}")
KEYWORDS = {"_": None, "N_": None, "translate": (1,), "t": None}


def message_ids() -> dict[str, list[tuple[str, int]]]:
    """Every text to translate, with where it is used (file, line)."""
    found: dict[str, list[tuple[str, int]]] = {}
    for path in SOURCES:
        for line, text, _comments, _context in extract_from_file("python", str(path), keywords=KEYWORDS):
            if isinstance(text, str) and text:
                found.setdefault(text, []).append((str(path.relative_to(ROOT)), line))
    solutions = Path("streams/mapping/errors.py")
    for text in (*SOLUTIONS.values(), SIZE_SOLUTION):
        found.setdefault(text, []).append((str(solutions), 0))
    return found


def problems(ids: Iterable[str], catalogues: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Each id without a translation in a language, or whose translation lacks or adds a {placeholder}."""
    found = []
    for language, translations in catalogues.items():
        for text in ids:
            translated = translations.get(text, "")
            if not translated.strip():
                found.append(f"{language}: no translation of {text!r}")
            elif set(PLACEHOLDER.findall(translated)) != set(PLACEHOLDER.findall(text)):
                found.append(f"{language}: the placeholders of {text!r} differ in {translated!r}")
    return found


def update() -> None:
    ids = message_ids()
    for language in LANGUAGES:
        path = catalogue_path(language)
        old = Catalog(locale=language)
        if path.exists():
            with path.open("rb") as source:
                old = read_po(source, locale=language)
        new = Catalog(locale=language, project="severa-procountor", version="0.1.0", fuzzy=False,
                      header_comment=HEADER.format(language=language), creation_date=old.creation_date)
        for text, where in ids.items():
            kept = old.get(text)
            translation = kept.string if kept and kept.string else text if language == "en" else ""
            new.add(text, translation, locations=where, flags=("python-format",) if "{" in text else ())
        for message in old:
            if isinstance(message.id, str) and message.id and message.id not in ids:
                new.obsolete[message.id] = message
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            write_po(out, new, width=116, include_previous=False, include_lineno=False, sort_by_file=True)
        missing = sum(1 for m in new if m.id and not m.string)
        print(f"{path.relative_to(ROOT)}: {len(ids)} messages, {missing} without a translation")


if __name__ == "__main__":
    update()
