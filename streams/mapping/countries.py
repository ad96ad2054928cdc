"""Severa's address countries → ISO 3166 alpha-2 and Procountor's country enum.

Severa gives the country of an invoice's receiver address as a name string and of a customer address as
``{guid, name, englishName}`` (the ISO code only via /v1/localization/countries). Procountor's address
``country`` is an enum of upper-case English country names with underscores (``FINLAND``, ``SWEDEN``,
``ALAND_ISLANDS``, ``UNITED_KINGDOM_OF_GREAT_BRITAIN_AND_NORTHERN_IRELAND``). We derive the enum name from
ISO 3166 short names (pycountry), with overrides where the reference shows Procountor using another form.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import pycountry

# Names the users of a Finnish/Swedish Severa write that pycountry does not know.
_ALIASES: dict[str, str] = {
    "suomi": "FI", "finland": "FI", "finnland": "FI",
    "sverige": "SE", "ruotsi": "SE", "schweden": "SE",
    "norge": "NO", "norja": "NO", "danmark": "DK", "tanska": "DK",
    "eesti": "EE", "viro": "EE", "saksa": "DE", "tyskland": "DE", "deutschland": "DE",
    "ahvenanmaa": "AX", "åland": "AX", "aland": "AX",
    "iso-britannia": "GB", "storbritannien": "GB", "uk": "GB", "england": "GB",
    "yhdysvallat": "US", "usa": "US", "alankomaat": "NL", "nederländerna": "NL", "ranska": "FR",
    "frankrike": "FR", "latvia": "LV", "liettua": "LT", "puola": "PL", "polen": "PL", "islanti": "IS",
    "island": "IS", "espanja": "ES", "spanien": "ES",
}  # fmt: skip

# Procountor enum names that differ from the ISO short name (reference §5.2 example; the sandbox agrees).
_PROCOUNTOR_OVERRIDES: dict[str, str] = {
    "GB": "UNITED_KINGDOM_OF_GREAT_BRITAIN_AND_NORTHERN_IRELAND",
    "US": "UNITED_STATES_OF_AMERICA",
}


def iso2(value: Any) -> str | None:
    """ISO alpha-2 code for a Severa country (a name, a code, or a ``{name, englishName, code2}`` dict)."""
    candidates: list[str] = []
    if isinstance(value, dict):
        candidates = [value.get(key) for key in ("code2", "code", "englishName", "name")]  # type: ignore[misc]
    elif isinstance(value, str):
        candidates = [value]
    for candidate in candidates:
        if not isinstance(candidate, str) or not candidate.strip():
            continue
        text = candidate.strip()
        alias = _ALIASES.get(text.casefold())
        if alias:
            return alias
        try:
            return str(pycountry.countries.lookup(text).alpha_2)
        except LookupError:
            continue
    return None


def procountor_country(code: str) -> str:
    """Procountor's country enum name for an ISO alpha-2 code."""
    code = code.upper()
    if code in _PROCOUNTOR_OVERRIDES:
        return _PROCOUNTOR_OVERRIDES[code]
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        raise LookupError(code)
    ascii_name = unicodedata.normalize("NFKD", country.name).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Z0-9]+", "_", ascii_name.upper()).strip("_")
