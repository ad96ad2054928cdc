"""Procountor's invoice languages: Severa's language (code or name) to Procountor's enum, the company's
default, and the labels written in the invoice's language."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

LANGUAGES = ("ENGLISH", "FINNISH", "SWEDISH", "ESTONIAN", "NORWEGIAN", "DANISH")

COMPANY_LANGUAGE = {"FI": "FINNISH", "SE": "SWEDISH"}

_LANGUAGE_ALIASES: dict[str, str] = {
    **dict.fromkeys(["en", "eng", "english", "englanti", "engelska"], "ENGLISH"),
    **dict.fromkeys(["fi", "fin", "finnish", "suomi", "finska"], "FINNISH"),
    **dict.fromkeys(["sv", "swe", "swedish", "svenska", "ruotsi"], "SWEDISH"),
    **dict.fromkeys(["et", "est", "estonian", "eesti", "viro", "estniska"], "ESTONIAN"),
    **dict.fromkeys(["no", "nb", "nn", "nor", "norwegian", "norsk", "norja", "norska"], "NORWEGIAN"),
    **dict.fromkeys(["da", "dan", "danish", "dansk", "tanska", "danska"], "DANISH"),
}

# Labels inside additionalInformation, in the invoice's language (English for the others).
LABELS: dict[str, dict[str, str]] = {
    "FINNISH": {"our": "Viitteemme", "your": "Viitteenne", "credit": "Hyvityslasku laskulle"},
    "SWEDISH": {"our": "Vår referens", "your": "Er referens", "credit": "Kreditfaktura för faktura"},
    "ENGLISH": {"our": "Our reference", "your": "Your reference", "credit": "Credit note for invoice"},
}


def to_procountor_language(language: Mapping[str, Any] | str | None) -> str | None:
    """Procountor's language enum for Severa's invoice language (code like ``fi-FI`` or a name)."""
    if language is None:
        return None
    values = [language] if isinstance(language, str) else [language.get(k) for k in ("code", "englishName", "name")]
    for value in values:
        if not isinstance(value, str) or not value.strip():
            continue
        text = value.strip().casefold()
        if text.upper() in LANGUAGES:
            return text.upper()
        for key in (text, re.split(r"[-_]", text)[0]):
            if key in _LANGUAGE_ALIASES:
                return _LANGUAGE_ALIASES[key]
    return None
