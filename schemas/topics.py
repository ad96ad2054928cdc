"""Every topic name, in one place. Keys are always `tenant/<entity id>` so one entity stays on one partition.

Every topic, consumer group and transactional id of a deployment starts with its prefix (`SEVPRO_TOPIC_PREFIX`,
default `sevpro.`), so that prefixed ACLs can give the deployment's Kafka user its own names and nobody else's.
The command line sets the prefix once at start (`configure`); this bottom layer reads no settings itself.
"""

from __future__ import annotations

import re

SEVERA_ENTITIES = (
    "invoice", "customer", "product", "work_type", "travel_expense_type", "project", "cost_center",
    "business_unit", "user", "travel_reimbursement", "invoice_status", "travel_reimbursement_status",
)
PROCOUNTOR_ENTITIES = ("purchase_invoice", "business_partner", "product", "dimension", "sales_invoice")
TRANSFER_KINDS = ("sales-invoice", "travel-reimbursement", "purchase-invoice", "dimension-item",
                  "sales-invoice-payment")

DEFAULT_PREFIX = "sevpro."
_LEGAL = re.compile(r"[A-Za-z0-9._-]*")  # the characters Kafka allows in topic names
_prefix = DEFAULT_PREFIX


def configure(prefix: str) -> None:
    """Set the deployment's prefix, once at start, before any name is handed out."""
    global _prefix
    if not _LEGAL.fullmatch(prefix):
        raise ValueError(f"topic prefix {prefix!r}: only letters, digits, '.', '_' and '-' are allowed")
    _prefix = prefix


def prefix() -> str:
    return _prefix


def named(name: str) -> str:
    """A name of this deployment: a consumer group, a transactional id, or a topic."""
    return f"{_prefix}{name}"


def observed(system: str, entity: str) -> str:
    """sevpro.severa.invoice.observed, sevpro.procountor.purchase_invoice.observed, ..."""
    return named(f"{system}.{entity}.observed")


def observation_errors(system: str) -> str:
    return named(f"{system}.observation-errors")


def transfer_requested(kind: str) -> str:
    return named(f"transfer.{kind}.requested")


def transfer_outcome(kind: str) -> str:
    return named(f"transfer.{kind}.outcome")


def poller_watermarks() -> str:
    """The pollers' positions: compacted, only the latest per key matters."""
    return named("poller.watermarks")


def registry_links() -> str:
    return named("registry.links")


def registry_create_requested() -> str:
    """Creation of a customer, product, person or dimension item, keyed tenant/company/registry/key: the worker
    that owns a key's partition is the only one that creates it."""
    return named("registry.create.requested")


def registry_create_answered() -> str:
    """The answers, back to the worker that asked."""
    return named("registry.create.answered")


def dead_letter() -> str:
    return named("deadletter")


def notifications_sent() -> str:
    """Error e-mails that went out, so no other host sends them again."""
    return named("notify.sent")


def tenants_configured() -> str:
    """TenantConfigured, key tenant: compacted, the latest configuration of every tenant of the deployment."""
    return named("config.tenants")


def company_settings() -> str:
    """CompanySettingsChanged, key tenant/company: compacted, the settings in force for every company (the
    workers read them from here and apply a change at once)."""
    return named("config.company-settings")


def settings_history() -> str:
    """Every TenantConfigured and CompanySettingsChanged, key tenant, never compacted: who changed what, when.
    Compaction keeps only the latest per key on the two topics above; the audit needs every change."""
    return named("config.history")


def config_topics() -> list[str]:
    """The deployment's configuration (not part of the event flow the read models project)."""
    return [tenants_configured(), company_settings(), settings_history()]


def smoke_in() -> str:
    return named("smoke.in")


def smoke_out() -> str:
    return named("smoke.out")


def all_topics() -> list[str]:
    names = [observed("severa", e) for e in SEVERA_ENTITIES] + [observed("procountor", e) for e in PROCOUNTOR_ENTITIES]
    names += [observation_errors("severa"), observation_errors("procountor")]
    for kind in TRANSFER_KINDS:
        names += [transfer_requested(kind), transfer_outcome(kind)]
    return names + [poller_watermarks(), registry_links(), registry_create_requested(), registry_create_answered(),
                    dead_letter(), notifications_sent()]


def compacted() -> set[str]:
    """The watermarks (the last per key counts), and the Severa users (personal data: the last version per
    person is all the integration needs, and `sevpro forget`'s tombstone erases a person from the topic).
    The tenants and company settings: the latest per key is the configuration in force (config.history keeps
    every change).
    """
    return {poller_watermarks(), observed("severa", "user"), tenants_configured(), company_settings()}


def single_partition() -> set[str]:
    return {poller_watermarks()}


def key(tenant: str, *parts: str) -> bytes:
    return "/".join((tenant, *parts)).encode()


def leader_topic(app_id: str) -> str:
    """faust elects the leader (who runs the pollers) through this one-partition topic of the app."""
    return f"{app_id}-__assignor-__leader"
