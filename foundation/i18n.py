"""Finnish, Swedish and English: the console's texts, the error e-mails and the solution texts.

The message catalogues are Babel's gettext sources, foundation/locales/<lang>/LC_MESSAGES/messages.po, read at
run time with Babel (sources only: nothing is compiled or generated, so no build step can be forgotten). The
message id is the English text; `translate` returns it unchanged for a text the catalogue does not have (a
solution written before a wording changed stays readable).
"""

from __future__ import annotations

from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Final

from babel.messages.pofile import read_po

LANGUAGES: Final = ("fi", "sv", "en")
DEFAULT_LANGUAGE: Final = "en"
LANGUAGE_NAMES: Final = {"fi": "Suomi", "sv": "Svenska", "en": "English"}
COUNTRY_LANGUAGES: Final = {"FI": "fi", "SE": "sv"}
LOCALES = Path(__file__).parent / "locales"

# The language of the page or e-mail being made (the console sets it per request).
current_language: ContextVar[str] = ContextVar("sevpro_language", default=DEFAULT_LANGUAGE)


def catalogue_path(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES" / "messages.po"


@cache
def catalogue(language: str) -> dict[str, str]:
    """msgid → msgstr of one language (empty and fuzzy translations left out: they fall back to the id)."""
    with catalogue_path(language).open("rb") as source:
        po = read_po(source, locale=language)
    return {str(m.id): str(m.string) for m in po if m.id and m.string and not m.fuzzy}


def translate(text: str, language: str | None = None) -> str:
    """`text` (an English message id) in `language` (default: the current one)."""
    lang = language or current_language.get()
    if lang not in LANGUAGES:
        lang = DEFAULT_LANGUAGE
    return catalogue(lang).get(text, text)


def _(text: str) -> str:
    """Mark a text for the catalogue and translate it into the current language."""
    return translate(text)


def N_(text: str) -> str:  # noqa: N802 - gettext's name for "mark only, translate when shown"
    """Mark a text for the catalogue without translating it here (it is translated where it is shown)."""
    return text


def company_language(language: str | None, country: str | None) -> str:
    """A company's e-mail language: its `language` setting, else its country's (FI → fi, SE → sv), else English."""
    if language in LANGUAGES:
        return str(language)
    return COUNTRY_LANGUAGES.get((country or "").upper(), DEFAULT_LANGUAGE)


def negotiate(accept_language: str | None) -> str:
    """The best of our languages for an Accept-Language header (`sv-SE,sv;q=0.9,en;q=0.5`), else English."""
    choices: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            choices.append((-quality, position, primary))
    return min(choices)[2] if choices else DEFAULT_LANGUAGE
