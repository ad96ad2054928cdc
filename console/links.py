"""Links from a record to its invoice in Severa's and Procountor's web UIs (templates from the settings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from foundation.settings import DEFAULT_PROCOUNTOR_WEB_URL, DEFAULT_SEVERA_WEB_URL, Settings


@dataclass(frozen=True)
class WebLinks:
    """`{id}` in each template becomes the invoice's id; an empty template shows no link."""

    severa: str = DEFAULT_SEVERA_WEB_URL
    procountor: str = DEFAULT_PROCOUNTOR_WEB_URL

    @classmethod
    def from_settings(cls, settings: Settings) -> WebLinks:
        return cls(settings.severa_web_url, settings.procountor_web_url)

    def of(self, entry: dict[str, Any]) -> list[tuple[str, str]]:
        """(system, address) of the invoices a transfer-log entry is about, Severa first. A sales invoice is in
        both systems (in Procountor once transferred); a travel reimbursement becomes a Procountor invoice; a
        purchase invoice comes from Procountor (its Severa side is project fees, not one invoice)."""
        kind, source, target = entry.get("kind"), entry.get("severa_id"), entry.get("procountor_id")
        ids = {"sales-invoice": (source, target), "travel-reimbursement": (None, target),
               "purchase-invoice": (None, source)}.get(str(kind), (None, None))
        pairs = (("Severa", self.severa, ids[0]), ("Procountor", self.procountor, ids[1]))
        return [(system, template.replace("{id}", quote(str(value), safe=""))) for system, template, value in pairs
                if template and value]
