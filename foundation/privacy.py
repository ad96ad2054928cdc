"""Personal data: what the integration keeps of a person, and how a bank account is shown.

Severa's user snapshot holds far more than the integration uses (national identity number, bank account, home
address, phone, birth date, notes...). Only the fields below are kept in events, read models, the console and
the export; the travel reimbursement transfer reads the traveller's bank account from Severa at the moment it
writes the Procountor person, and nowhere else is a bank account kept in full. README, "Personal data".
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from stdnum.se import personnummer

# What the integration reads of a Severa user outside the transfer itself (streams/travel_reimbursement.py: the
# trigger's company of the user; streams/mapping/travel_reimbursement.py: the person's name, employee number
# and e-mail, the business unit dimension); guid and lastUpdatedDateTime identify the version.
USER_FIELDS = ("guid", "lastUpdatedDateTime", "isActive", "code", "firstName", "lastName", "email", "businessUnit")
BUSINESS_UNIT_FIELDS = ("guid", "name", "companyBusinessUnitGuid")

_IBAN = re.compile(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){8,30}\b")
_ACCOUNT_FIELD = re.compile(r"(bankaccount|accountnumber|iban)", re.IGNORECASE)


def minimal_user(user: Mapping[str, Any]) -> dict[str, Any]:
    """The kept fields of a Severa UserOutputModel (never its identity number, bank account or address)."""
    kept = {name: user[name] for name in USER_FIELDS if name in user}
    unit = user.get("businessUnit")
    if isinstance(unit, Mapping):
        kept["businessUnit"] = {name: unit[name] for name in BUSINESS_UNIT_FIELDS if name in unit}
    return kept


# A Finnish henkilötunnus (DDMMYY, century sign, ZZZ, check) and a Swedish personnummer with its separator
# ([YY]YYMMDD-NNNN) by their shape and date, so that one with a typo (refused by the transfer) is masked too;
# ten or twelve bare digits only when the Luhn check holds (they may be anything else).
_HETU = re.compile(r"(?<![\w-])(\d{2})(\d{2})(\d{2})([-+A-FU-Ya-fu-y])\d{3}[0-9A-Ya-y](?![\w-])")
_PERSONNUMMER = re.compile(r"(?<![\w-])(\d{2})?(\d{2})(\d{2})(\d{2})([-+])\d{4}(?![\w-])")
_BARE_PERSONNUMMER = re.compile(r"(?<![\w-])(?:\d{12}|\d{10})(?![\w-])")
PERSONAL_CODE_MASK = "******-****"


def _is_day(year: str, month: str, day: str) -> bool:
    # Swedish coordination numbers add 60 to the day.
    days = int(day) - 60 if int(day) > 60 else int(day)
    try:
        date(2000 + int(year[-2:]), int(month), days)
    except ValueError:
        return False
    return True


def mask_personal_codes(text: str) -> str:
    """Every Finnish or Swedish personal identity code in ``text`` replaced by ``******-****``: a private
    customer's identifier may be named in an error, a log line or an event, never in clear."""
    text = _HETU.sub(lambda m: PERSONAL_CODE_MASK if _is_day(m.group(3), m.group(2), m.group(1)) else m.group(0),
                     text)
    text = _PERSONNUMMER.sub(
        lambda m: PERSONAL_CODE_MASK if _is_day(m.group(2), m.group(3), m.group(4)) else m.group(0), text)
    return _BARE_PERSONNUMMER.sub(
        lambda m: PERSONAL_CODE_MASK if personnummer.is_valid(m.group(0)) else m.group(0), text)


def mask_iban(value: str) -> str:
    """`FI21 **** **** 0785`: the country and check digits and the last four, enough to recognise an account."""
    compact = re.sub(r"\s+", "", value)
    if len(compact) < 10:
        return "****"
    return f"{compact[:4]} **** **** {compact[-4:]}"


def is_iban(text: str) -> bool:
    """ISO 13616's check (mod 97 = 1), so that a VAT number or a reference is not taken for an account."""
    compact = re.sub(r"\s+", "", text).upper()
    # RF: an ISO 11649 creditor reference, made by the same check.
    if compact.startswith("RF") or not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{8,30}", compact):
        return False
    digits = "".join(str(int(c, 36)) for c in compact[4:] + compact[:4])
    return int(digits) % 97 == 1


def mask_ibans(text: str) -> str:
    """Every IBAN in `text`, masked."""
    return _IBAN.sub(lambda found: mask_iban(found.group(0)) if is_iban(found.group(0)) else found.group(0), text)


def masked_error(error: Mapping[str, Any]) -> dict[str, Any]:
    """A transfer error as it may be kept and shown: the value of a bank account field masked, and any IBAN or
    personal identity code in the texts."""
    out = dict(error)
    value = out.get("value")
    if isinstance(value, str):
        out["value"] = (mask_iban(value) if _ACCOUNT_FIELD.search(str(out.get("field") or ""))
                        else mask_personal_codes(mask_ibans(value)))
    for name in ("message", "solution"):
        if isinstance(out.get(name), str):
            out[name] = mask_personal_codes(mask_ibans(out[name]))
    return out


def _minimal_user_json(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        user = json.loads(text)
    except ValueError:
        return None  # not readable, so not knowably free of personal data: dropped
    if not isinstance(user, Mapping):
        return None
    return json.dumps(minimal_user(user), ensure_ascii=False, sort_keys=True)


def without_personal_data(name: str, event: Mapping[str, Any]) -> dict[str, Any]:
    """An event as the read models keep it: user snapshots minimised (also those published before the poller
    minimised them), bank accounts in errors masked. A copy when something was taken out, else the event itself
    (a replay passes every event through here: most carry nothing personal)."""
    is_user = event.get("source_system") == "severa" and event.get("entity") == "user"
    if name == "EntityObserved" and is_user:
        return {**event, "snapshot": _minimal_user_json(event.get("snapshot")) or "{}"}
    if name == "ObservationFailed" and is_user:
        return {**event, "raw": _minimal_user_json(event.get("raw"))}
    if name == "TransferOutcome" and isinstance(event.get("error"), Mapping):
        return {**event, "error": masked_error(event["error"])}
    return event if isinstance(event, dict) else dict(event)
