"""Every topic name, in one place. Keys are always `tenant/<entity id>` so one entity stays on one partition."""

from __future__ import annotations

SEVERA_ENTITIES = (
    "invoice", "customer", "product", "work_type", "travel_expense_type", "project", "cost_center",
    "business_unit", "user", "travel_reimbursement", "invoice_status", "travel_reimbursement_status",
)
PROCOUNTOR_ENTITIES = ("purchase_invoice", "business_partner", "product", "dimension")
TRANSFER_KINDS = ("sales-invoice", "travel-reimbursement", "purchase-invoice", "dimension-item")


def observed(system: str, entity: str) -> str:
    """severa.invoice.observed, procountor.purchase_invoice.observed, ..."""
    return f"{system}.{entity}.observed"


def observation_errors(system: str) -> str:
    return f"{system}.observation-errors"


def transfer_requested(kind: str) -> str:
    return f"transfer.{kind}.requested"


def transfer_outcome(kind: str) -> str:
    return f"transfer.{kind}.outcome"


POLLER_WATERMARKS = "poller.watermarks"  # compacted
REGISTRY_LINKS = "registry.links"
# Creation of a customer, product, person or dimension item, keyed tenant/company/registry/key: the worker that
# owns a key's partition is the only one that creates it; the answers go back to the worker that asked.
REGISTRY_CREATE_REQUESTED = "registry.create.requested"
REGISTRY_CREATE_ANSWERED = "registry.create.answered"
DEAD_LETTER = "deadletter"
NOTIFICATIONS_SENT = "notify.sent"  # error e-mails that went out, so no other host sends them again
SMOKE_IN = "sevpro.smoke.in"
SMOKE_OUT = "sevpro.smoke.out"


def all_topics() -> list[str]:
    names = [observed("severa", e) for e in SEVERA_ENTITIES] + [observed("procountor", e) for e in PROCOUNTOR_ENTITIES]
    names += [observation_errors("severa"), observation_errors("procountor")]
    for kind in TRANSFER_KINDS:
        names += [transfer_requested(kind), transfer_outcome(kind)]
    return names + [POLLER_WATERMARKS, REGISTRY_LINKS, REGISTRY_CREATE_REQUESTED, REGISTRY_CREATE_ANSWERED,
                    DEAD_LETTER, NOTIFICATIONS_SENT]


# Compacted: the watermarks (the last per key counts), and the Severa users (personal data: the last version
# per person is all the integration needs, and `sevpro forget`'s tombstone erases a person from the topic).
COMPACTED = {POLLER_WATERMARKS, observed("severa", "user")}
SINGLE_PARTITION = {POLLER_WATERMARKS}


def key(tenant: str, *parts: str) -> bytes:
    return "/".join((tenant, *parts)).encode()


def leader_topic(app_id: str) -> str:
    """faust elects the leader (who runs the pollers) through this one-partition topic of the app."""
    return f"{app_id}-__assignor-__leader"

