"""Severa's free-text measurement units → Procountor's invoice-row unit enum.

Severa keeps the unit as free text (``measurementUnit``: "h", "kpl", "pcs", "km", "pv"...), in whatever
language the organisation uses; Procountor's invoice row takes an upper-case enum. Only the enum values the
reference lists are produced (the full enum has ≈110 values; we do not guess at the rest). An unknown unit is
a data error rather than a silent ``NO_UNIT``: an invoice that says "3" instead of "3 h" is wrong.
"""

from __future__ import annotations

# The unit enum values listed in procountor-api.md §5.2 (a subset of Procountor's full list).
PROCOUNTOR_UNITS: frozenset[str] = frozenset(
    {
        "CM", "LOT", "GRAM", "HOUR", "PERSON", "LINEAR_METER", "KILOGRAM", "MONTH", "KILOMETER", "PIECE",
        "KILOWATT_HOUR", "LITER", "BOX", "METER", "SQUARE_METER", "CUBIC_METER", "SALE_UNIT", "MINUTE",
        "MILLIMETER", "PARCEL", "BOTTLE", "CAN", "BAG", "DAY", "ROLL", "PAGE", "SACK", "SERIES", "TUBE",
        "TON", "YEAR", "WEEK", "FULL_DAY", "HECTARE", "NO_UNIT",
    }
)  # fmt: skip

# Aliases in English, Finnish and Swedish (the integration's countries), lower-case, without a final dot.
_ALIASES: dict[str, str] = {
    **dict.fromkeys(
        [
            "h",
            "hr",
            "hrs",
            "hour",
            "hours",
            "t",
            "tunti",
            "tuntia",
            "tunnit",
            "tim",
            "timme",
            "timmar",
            "htr",
        ],
        "HOUR",
    ),
    **dict.fromkeys(
        [
            "pcs",
            "pc",
            "piece",
            "pieces",
            "ea",
            "each",
            "kpl",
            "st",
            "stk",
            "styck",
            "item",
            "items",
            "unit",
            "units",
        ],
        "PIECE",
    ),
    **dict.fromkeys(
        ["km", "kilometer", "kilometers", "kilometre", "kilometres", "kilometri", "kilometriä"], "KILOMETER"
    ),
    **dict.fromkeys(["d", "day", "days", "pv", "päivä", "päivää", "vrk", "dag", "dagar", "dygn"], "DAY"),
    **dict.fromkeys(["full day", "full_day", "kokopäivä"], "FULL_DAY"),
    **dict.fromkeys(["mo", "month", "months", "kk", "kuukausi", "kuukautta", "mån", "månad", "månader"], "MONTH"),
    **dict.fromkeys(["wk", "week", "weeks", "vk", "viikko", "viikkoa", "vecka", "veckor"], "WEEK"),
    **dict.fromkeys(["y", "yr", "year", "years", "vuosi", "vuotta", "år"], "YEAR"),
    **dict.fromkeys(["min", "mins", "minute", "minutes", "minuutti", "minuuttia", "minut", "minuter"], "MINUTE"),
    **dict.fromkeys(["lot", "batch", "erä", "lump sum", "parti"], "LOT"),
    **dict.fromkeys(["person", "persons", "people", "hlö", "henkilö", "henkilöä", "pers", "person(er)"], "PERSON"),
    **dict.fromkeys(["kg", "kilogram", "kilograms", "kilo", "kiloa"], "KILOGRAM"),
    **dict.fromkeys(["g", "gram", "grams", "gramma", "grammaa"], "GRAM"),
    **dict.fromkeys(["l", "ltr", "liter", "liters", "litre", "litres", "litra", "litraa"], "LITER"),
    **dict.fromkeys(["m", "meter", "meters", "metre", "metres", "metri", "metriä"], "METER"),
    **dict.fromkeys(["jm", "linear meter", "löpmeter"], "LINEAR_METER"),
    **dict.fromkeys(["m2", "m²", "sqm", "square meter", "neliö", "neliömetri", "kvm"], "SQUARE_METER"),
    **dict.fromkeys(["m3", "m³", "cubic meter", "kuutio", "kuutiometri"], "CUBIC_METER"),
    **dict.fromkeys(["cm", "senttimetri"], "CM"),
    **dict.fromkeys(["mm", "millimetri"], "MILLIMETER"),
    **dict.fromkeys(["kwh"], "KILOWATT_HOUR"),
    **dict.fromkeys(["box", "boxes", "laatikko", "ltk", "låda"], "BOX"),
    **dict.fromkeys(["page", "pages", "sivu", "sivua", "sida", "sidor"], "PAGE"),
    **dict.fromkeys(["ton", "tons", "tonne", "tonni", "tn"], "TON"),
    **dict.fromkeys(["ha", "hectare", "hehtaari"], "HECTARE"),
    **dict.fromkeys(["pkt", "parcel", "paketti", "paket"], "PARCEL"),
    **dict.fromkeys(["series", "sarja", "serie"], "SERIES"),
}


def to_procountor_unit(unit: str | None) -> str | None:
    """The Procountor unit for Severa's ``measurementUnit``; ``NO_UNIT`` for an empty one, None if unknown."""
    if unit is None or not unit.strip():
        return "NO_UNIT"
    text = " ".join(unit.strip().split())
    if text.upper() in PROCOUNTOR_UNITS:
        return text.upper()
    key = text.lower()
    if key in _ALIASES:
        return _ALIASES[key]
    key = key.rstrip(".")
    return _ALIASES.get(key)
