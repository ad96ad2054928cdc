"""Known disagreements with the public description, each waiting for the fix of a named issue item.

While an item's fix is not in main, its violations are counted as expected and do not fail the tests;
``sevpro contract coverage`` lists them. Remove an entry when its fix lands: the coverage command reports
an entry that no run produced any more.
"""

from __future__ import annotations

from dataclasses import dataclass

from .check import Violation


@dataclass(frozen=True)
class Known:
    system: str
    operation: str
    side: str
    field: str  # a field path, or its beginning
    issue: str

    def matches(self, violation: Violation) -> bool:
        return (
            violation.system == self.system
            and violation.operation == self.operation
            and violation.side == self.side
            and violation.field.startswith(self.field)
        )


KNOWN: tuple[Known, ...] = ()  # none waiting: product search once per type (issue 12) landed


def known_issue(violation: Violation) -> str | None:
    """The issue item that explains this violation, or None."""
    return next((k.issue for k in KNOWN if k.matches(violation)), None)
