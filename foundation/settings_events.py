"""Tenant and company configuration as events: the models, the validation that guards the topics, and the
records (`TenantConfigured`, `CompanySettingsChanged`) with who, when, the whole new settings and what changed.

Pure: nothing here talks to Kafka (foundation/settings_directory.py reads and writes the topics). The company
settings are handled generically (`model_dump` / `model_validate` of `CompanySettings`), so a field added to the
model needs no change here. Credentials are references only: the company settings name an environment variable
(`procountor_api_key_env`), and a tenant's secrets are `env:NAME`, `file:/path` or `secret:<secret manager
path>`; a value that is not such a reference is refused, so no secret can reach a topic.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from foundation.company import CompanySettings
from foundation.settings import SettingsError, read_secret_file
from foundation.types import Json

# A tenant is the first part of every record key (`tenant/<entity>`) and of transactional ids: no '/'.
TENANT_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
_ENV = re.compile(r"^env:([A-Za-z_][A-Za-z0-9_]*)$")
_FILE = re.compile(r"^file:(/\S+)$")
_SECRET_MANAGER = re.compile(r"^secret:([A-Za-z0-9][A-Za-z0-9_./:#@+=-]*)$")


class SettingsRefused(ValueError):
    """A change that is not published: every line names the tenant or company and the field."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def _secret_reference(value: str) -> str:
    if not (_ENV.match(value) or _FILE.match(value) or _SECRET_MANAGER.match(value)):
        # The message never repeats the value: it may be the secret itself, pasted by mistake.
        raise ValueError("must be a reference to the secret, never the secret: env:VARIABLE_NAME, "
                         "file:/absolute/path or secret:<secret manager path>")
    return value


SecretReference = Annotated[str, AfterValidator(_secret_reference)]


class TenantConfig(BaseModel):
    """One tenant (a Severa organisation) of the deployment: its API clients, secrets by reference."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    name: str = Field(pattern=TENANT_NAME)
    display_name: str | None = None
    enabled: bool = True
    severa_client_id: str = Field(min_length=1)
    severa_client_secret: SecretReference
    procountor_client_id: str = Field(min_length=1)
    procountor_client_secret: SecretReference
    # The APIs this tenant's clients call; None: the deployment's (SEVPRO_SEVERA_URL, SEVPRO_PROCOUNTOR_URL).
    severa_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    procountor_url: str | None = Field(default=None, pattern=r"^https?://\S+$")

    def references(self) -> dict[str, str]:
        """Field → secret reference."""
        return {"severa_client_secret": self.severa_client_secret,
                "procountor_client_secret": self.procountor_client_secret}


def resolve_secret(reference: str, environ: Mapping[str, str]) -> str:
    """The secret a reference points at, on this host. Secret manager paths are recorded for the deployment's
    secret manager integration; this version resolves environment variables and files only."""
    if match := _ENV.match(reference):
        value = environ.get(match.group(1))
        if not value:
            raise SettingsError(f"{reference}: environment variable {match.group(1)} is not set")
        return value
    if match := _FILE.match(reference):
        value = read_secret_file(reference, match.group(1))
        if not value:
            raise SettingsError(f"{reference}: the file is empty")
        return value
    raise SettingsError(f"{reference}: secret manager references are not resolved by this version (use env: or file:)")


def resolve_credentials(config: TenantConfig, environ: Mapping[str, str]) -> dict[str, str]:
    """Field → the secret each reference of the tenant points at, on this host. SettingsError names the tenant
    and the field (never a value)."""
    resolved = {}
    for field, reference in config.references().items():
        try:
            resolved[field] = resolve_secret(reference, environ)
        except SettingsError as error:
            raise SettingsError(f"tenant {config.name!r}: {field}: {error}") from None
    return resolved


# ------------------------------------------------------------------------------------------------- validation


def describe(subject: str, error: ValidationError) -> list[str]:
    """One line per problem: `company 'FI': sales_invoices.transfer_status: Field required`."""
    lines = []
    for item in error.errors(include_url=False, include_input=False):  # never the input: it may be a secret
        location = ".".join(str(part) for part in item["loc"]) or "(settings)"
        lines.append(f"{subject}: {location}: {item['msg'].removeprefix('Value error, ')}")
    return lines


def validate_company(name: str, settings: Mapping[str, Any]) -> CompanySettings:
    """The same validation as the TOML file's; SettingsRefused names the company and every field at fault."""
    if settings.get("name", name) != name:
        raise SettingsRefused([f"company {name!r}: name: must equal the company ({name!r})"])
    try:
        return CompanySettings.model_validate({**settings, "name": name})
    except ValidationError as error:
        raise SettingsRefused(describe(f"company {name!r}", error)) from None


def validate_tenant(settings: Mapping[str, Any]) -> TenantConfig:
    try:
        return TenantConfig.model_validate(settings)
    except ValidationError as error:
        raise SettingsRefused(describe(f"tenant {settings.get('name')!r}", error)) from None


def assign(settings: Mapping[str, Any], assignments: Mapping[str, Any], unset: Iterable[str] = ()) -> dict[str, Any]:
    """A copy of `settings` (model_dump) with dotted fields set (`sales_invoices.procountor_status`) or removed
    (back to the default, or refused when the field is required). Validation comes after, on the whole."""
    result = json.loads(json.dumps(settings))  # deep copy of plain JSON data
    for path, value in assignments.items():
        *parents, last = path.split(".")
        target = result
        for part in parents:
            if not isinstance(target.get(part), dict):
                target[part] = {}  # not a section (a typo): the model refuses it by its name
            target = target[part]
        target[last] = value
    for path in unset:
        *parents, last = path.split(".")
        target = result
        for part in parents:
            target = target.get(part) if isinstance(target, dict) else None
        if isinstance(target, dict):
            target.pop(last, None)
    return result


def change_company(current: CompanySettings | None, name: str, values: Mapping[str, Any],
                   unset: Iterable[str] = ()) -> CompanySettings:
    """`current` with the dotted fields of `values` set and those of `unset` back to their defaults (a new company
    when `current` is None), validated whole: the one way a company's settings are changed, by `sevpro settings
    set`, the console's form and its switches (in either settings mode)."""
    base = current.model_dump(mode="json") if current is not None else {"name": name}
    return validate_company(name, assign(base, values, unset))


def fingerprint(settings: CompanySettings | None) -> str:
    """A short digest of a company's settings: a form sent with the digest of what it showed is refused when the
    settings changed in between (another user's change is never overwritten unseen)."""
    data = settings.model_dump(mode="json") if settings is not None else None
    return hashlib.sha256(_json(data).encode()).hexdigest()[:16]


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[Json]:
    """The leaf fields whose values differ, as dotted paths with JSON values before and after."""
    old, new = _leaves(before or {}), _leaves(after)
    return [{"field": field, "before": _json(old[field]) if field in old else None,
             "after": _json(new[field]) if field in new else None}
            for field in sorted(old.keys() | new.keys()) if old.get(field, _MISSING) != new.get(field, _MISSING)]


_MISSING = object()


def _leaves(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            found |= _leaves(value, f"{prefix}{key}.")
        else:
            found[f"{prefix}{key}"] = value
    return found


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


# ---------------------------------------------------------------------------------------------------- events


def company_settings_changed(tenant: str, settings: CompanySettings, previous: Json | None, *, changed_by: str,
                             origin: str, at: datetime) -> Json | None:
    """The CompanySettingsChanged that makes `settings` current after `previous` (the latest event of the company,
    or None); None when nothing would change."""
    new = settings.model_dump(mode="json")
    old = json.loads(previous["settings"]) if previous else None
    changed = changes(old, new)
    if not changed:
        return None
    revision = previous["revision"] + 1 if previous else 1
    return {"event_id": f"settings:{tenant}/{settings.name}@{revision}", "tenant": tenant, "company": settings.name,
            "revision": revision, "changed_by": changed_by, "changed_at": at, "origin": origin,
            "settings": _json(new), "changes": changed}


def tenant_configured(config: TenantConfig, previous: Json | None, *, changed_by: str, origin: str,
                      at: datetime) -> Json | None:
    """The TenantConfigured that makes `config` current after `previous`; None when nothing would change."""
    new = config.model_dump(mode="json")
    old = json.loads(previous["config"]) if previous else None
    changed = changes(old, new)
    if not changed:
        return None
    revision = previous["revision"] + 1 if previous else 1
    return {"event_id": f"tenant:{config.name}@{revision}", "tenant": config.name, "revision": revision,
            "changed_by": changed_by, "changed_at": at, "origin": origin, "config": _json(new), "changes": changed}


def origin_of(command: str, path: Path | None = None) -> str:
    """How a change was made, for the audit: the command, and the file it read."""
    return f"{command} {path.name}" if path is not None else command
