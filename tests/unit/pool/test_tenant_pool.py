"""A pool worker's view of its tenants, from the config topics' records (no broker): whom it serves, what a
tenant's runtime is built with, which tenants it polls, and the clear error when a credential cannot be had."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from foundation.company import demo_companies_path, load_companies
from foundation.settings import Settings
from foundation.settings_events import company_settings_changed, tenant_configured, validate_tenant
from schemas.codec import encode
from streams.pool import TenantPool, TenantUnavailable, _Polling, tenant_settings
from streams.runtime import Pace

AT = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _tenant(name: str, **fields: object) -> dict:
    return {"name": name, "severa_client_id": f"{name}-severa", "severa_client_secret": "env:POOL_UNIT_SEVERA",
            "procountor_client_id": f"{name}-procountor", "procountor_client_secret": "env:POOL_UNIT_PROCOUNTOR",
            **fields}


def _pool(*tenants: dict, partitions: dict[str, int] | None = None) -> TenantPool:
    pool = TenantPool(Settings(pool="unit", severa_url="https://severa.example/rest-api",
                               procountor_url="https://procountor.example/api"), "unused:9092")
    for config in tenants:
        record = tenant_configured(validate_tenant(config), None, changed_by="t", origin="add", at=AT)
        pool.directory._apply(config["name"].encode(), encode("TenantConfigured", record))
        pool.directory.tenant_partitions[config["name"]] = (partitions or {}).get(config["name"], 0)
        for company in load_companies(demo_companies_path()).values():
            changed = company_settings_changed(config["name"], company, None, changed_by="t", origin="import", at=AT)
            pool.directory._apply(f"{config['name']}/{company.name}".encode(),
                                  encode("CompanySettingsChanged", changed))
    return pool


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POOL_UNIT_SEVERA", "severa-secret-value")
    monkeypatch.setenv("POOL_UNIT_PROCOUNTOR", "procountor-secret-value")
    monkeypatch.setenv("SEVPRO_PROCOUNTOR_API_KEY_FI", "fi-key")
    monkeypatch.setenv("SEVPRO_PROCOUNTOR_API_KEY_SE", "se-key")


def test_it_serves_the_enabled_registered_tenants_and_says_why_not_the_others() -> None:
    pool = _pool(_tenant("acme"), _tenant("gone", enabled=False))
    assert pool.refusal("acme") is None and pool.refusal("acme/FI") is None
    assert pool.refusal("nobody") == "tenant 'nobody' is not registered in sevpro.config.tenants (sevpro tenants add)"
    assert pool.refusal("gone") == "tenant 'gone' is disabled (sevpro tenants disable)"
    assert pool.tenants() == ["acme"]


def test_a_tenants_runtime_uses_its_own_clients_and_urls_or_the_deployments() -> None:
    pool = _pool(_tenant("acme"), _tenant("own", severa_url="https://own.example/rest-api"))
    acme = tenant_settings(pool.settings, pool.config("acme"))  # type: ignore[arg-type]
    assert (acme.tenant, acme.severa_client_id, acme.procountor_client_id) == ("acme", "acme-severa", "acme-procountor")
    assert acme.severa_client_secret == SecretStr("severa-secret-value")
    assert acme.severa_url == "https://severa.example/rest-api"  # the deployment's
    own = tenant_settings(pool.settings, pool.config("own"))  # type: ignore[arg-type]
    assert own.severa_url == "https://own.example/rest-api" and own.procountor_url == "https://procountor.example/api"
    assert "severa-secret-value" not in repr(acme)


@pytest.mark.parametrize(("reference", "expected"), [
    ("secret:vault/acme/severa", r"tenant 'acme': severa_client_secret: secret:vault/acme/severa: secret manager "
                                 r"references are not resolved by this version"),
    ("env:POOL_UNIT_NOT_SET", r"tenant 'acme': severa_client_secret: env:POOL_UNIT_NOT_SET: environment variable "
                              r"POOL_UNIT_NOT_SET is not set"),
    ("file:/nonexistent/acme-secret", r"tenant 'acme': severa_client_secret: file:/nonexistent/acme-secret: cannot "
                                      r"read /nonexistent/acme-secret"),
])
def test_a_credential_that_cannot_be_had_is_refused_naming_the_tenant_and_field(reference: str,
                                                                                 expected: str) -> None:
    pool = _pool(_tenant("acme", severa_client_secret=reference))
    with pytest.raises(TenantUnavailable, match=expected):
        pool._entry("acme")
    assert "acme" not in pool.live


def test_a_company_api_key_variable_not_set_is_refused_naming_the_tenant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEVPRO_PROCOUNTOR_API_KEY_SE")
    pool = _pool(_tenant("acme"))
    with pytest.raises(TenantUnavailable, match=r"tenant 'acme': .*SEVPRO_PROCOUNTOR_API_KEY_SE"):
        pool._entry("acme")


def test_it_polls_the_enabled_tenants_of_the_partitions_it_owns() -> None:
    pool = _pool(_tenant("a"), _tenant("b"), _tenant("c", enabled=False), _tenant("d"),
                 partitions={"a": 0, "b": 1, "c": 1, "d": 2})
    pool.assigned = lambda: {1, 2}
    assert pool.poll_duty() == {"b", "d"}
    pool.assigned = set
    assert pool.poll_duty() == set()


def test_a_pace_can_be_changed_while_it_runs() -> None:
    pace = Pace(1000.0)
    assert pace.rate == pytest.approx(1000.0) and pace.max_rate == 1  # never a burst
    pace.set_rate(2.0)
    assert pace.rate == pytest.approx(2.0) and pace.time_period == pytest.approx(0.5)
    bursting = Pace(5.0, burst=3)  # Severa's idle burst at 5/s
    assert bursting.rate == pytest.approx(5.0) and bursting.max_rate == 3
    bursting.set_rate(2.5)  # a pool worker's half: no burst
    assert bursting.rate == pytest.approx(2.5) and bursting.max_rate == 1
    with pytest.raises(ValueError, match="positive"):
        pace.set_rate(0)


class _Starter:
    """Stands in for a RuntimeStarter whose runtime never started: only its close is watched."""

    def __init__(self) -> None:
        self.closed = 0
        self.runtime = None

    async def close(self) -> None:
        self.closed += 1


async def test_an_idle_tenants_runtime_is_closed_but_not_one_in_use_or_polled_here() -> None:
    pool = _pool(_tenant("idle"), _tenant("busy"), _tenant("polled"))
    pool.idle_seconds = 0.0
    starters = {}
    for name in ("idle", "busy", "polled"):
        entry = pool._entry(name)
        starters[name] = entry.starter = _Starter()  # type: ignore[assignment]
    pool.live["busy"].leases = 1  # a transfer of it is under way
    pool.polling["polled"] = _Polling()  # this worker polls it
    await pool.sweep()
    assert sorted(pool.live) == ["busy", "polled"]
    assert [starters[name].closed for name in ("idle", "busy", "polled")] == [1, 0, 0]

    await pool.drop("busy", "disabled")  # closed when its last piece of work ends, not under it
    assert "busy" not in pool.live and starters["busy"].closed == 0


async def test_a_tenant_that_cannot_be_polled_is_said_once_per_wait_not_every_tick() -> None:
    pool = _pool(_tenant("acme", severa_client_secret="secret:vault/acme"))
    pool._ready.set()
    pool.assigned = lambda: {0}
    await pool.poll_tick()
    polling = pool.polling["acme"]
    assert polling.round is not None
    with pytest.raises(TimeoutError):  # it waits out its configuration instead of failing again at once
        await asyncio.wait_for(asyncio.shield(polling.round), 0.5)
    await pool.poll_tick()
    assert pool.polling["acme"].round is polling.round  # no second round meanwhile
    await pool.close()
    assert polling.round.done()


class _Due:
    def __init__(self, at: float) -> None:
        self.at = at

    def next_due(self) -> float:
        return self.at


class _PolledRuntime:
    def __init__(self, due: float) -> None:
        self.pollers = [_Due(due)]

    async def stop_pollers(self) -> None:
        self.pollers = []


async def test_a_round_starts_only_when_one_of_the_tenants_pollers_is_due() -> None:
    pool = _pool(_tenant("acme"))
    pool._ready.set()
    pool.assigned = lambda: {0}
    entry = pool._entry("acme")
    entry.starter = _Starter()  # type: ignore[assignment]
    runtime = _PolledRuntime(asyncio.get_running_loop().time() + 3600)
    entry.starter.runtime = runtime  # type: ignore[attr-defined]
    pool.polling["acme"] = _Polling()
    await pool.poll_tick()
    assert pool.polling["acme"].round is None  # its pollers read an hour from now: no round every tick meanwhile

    runtime.pollers = [_Due(float("-inf"))]
    await pool.poll_tick()
    assert pool.polling["acme"].round is not None
    pool.polling["acme"].round.cancel()
    await pool.close()


class _SlowStarter:
    """A runtime start that takes as long as the test says, or fails: an API down or slow."""

    def __init__(self) -> None:
        self.runtime: object | None = None
        self.attempts = 0
        self.go = asyncio.Event()
        self.error: Exception | None = None
        self.closed = False

    async def start_once(self) -> object:
        self.attempts += 1
        await self.go.wait()
        if self.error is not None:
            raise self.error
        self.runtime = _Runtime()
        return self.runtime

    async def apply(self, companies: object) -> list[str]:
        return []

    async def close(self) -> None:
        self.closed = True


class _Runtime:
    pace_share = 1.0


async def _runtime_of(pool: TenantPool, tenant: str) -> object:
    """The tenant's runtime, used and let go as an agent does (TenantUnavailable when the pool cannot give it)."""
    async with pool.use(tenant) as runtime:
        return runtime


async def test_a_runtime_slow_to_start_does_not_hold_the_event_and_its_start_goes_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("streams.pool.START_WAIT_SECONDS", 0.1)
    pool = _pool(_tenant("acme"))
    pool._ready.set()
    starter = pool._entry("acme").starter = _SlowStarter()  # type: ignore[assignment]
    with pytest.raises(TenantUnavailable, match="tenant 'acme': its runtime cannot start: not started within 0.1 s"):
        await _runtime_of(pool, "acme")
    with pytest.raises(TenantUnavailable):  # the start under way is waited for, not started twice
        await _runtime_of(pool, "acme")
    assert starter.attempts == 1
    starter.go.set()
    async with pool.use("acme") as runtime:
        assert runtime is starter.runtime


async def test_a_failed_runtime_start_is_tried_again_after_a_back_off_or_at_once_on_a_change(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("streams.pool.START_WAIT_SECONDS", 1.0)
    pool = _pool(_tenant("acme"))
    pool._ready.set()
    starter = pool._entry("acme").starter = _SlowStarter()  # type: ignore[assignment]
    starter.error, starter.go = ConnectionError("severa down"), asyncio.Event()
    starter.go.set()
    with pytest.raises(TenantUnavailable, match="its runtime cannot start: ConnectionError: severa down"):
        await _runtime_of(pool, "acme")
    with pytest.raises(TenantUnavailable, match=r"severa down \(tried again in \d s\)"):
        await _runtime_of(pool, "acme")
    assert starter.attempts == 1  # no start tried during the back-off
    starter.error = None
    await pool._changed("acme", [{"tenant": "acme", "settings": "{}", "company": "FI", "revision": 2,
                                  "changed_by": "operator", "changes": []}])  # the operator changed its settings
    async with pool.use("acme") as runtime:
        assert runtime is starter.runtime and starter.attempts == 2


class _Letters:
    """The dead-letter topic as the pool reads it: one letter of acme, parked while it was not served."""

    def __init__(self) -> None:
        from streams.dead_letters import NOT_SERVED, Parked

        self.letter = Parked({"event_id": "dlq:t:0:7", "tenant": "acme", "cause": NOT_SERVED}, b"acme/1")
        self.polls, self.stopped = 0, False

    async def poll(self) -> None:
        self.polls += 1

    def parked(self, *, tenant: str, cause: str) -> list:
        return [self.letter] if tenant == "acme" and not self.letter.redriven else []

    async def stop(self) -> None:
        self.stopped = True


async def test_a_parked_event_is_redriven_once_the_secret_file_its_tenant_needs_is_written(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "acme-severa"
    pool = _pool(_tenant("acme", severa_client_secret=f"file:{secret}"))
    pool._ready.set()
    pool.assigned = lambda: {0}
    pool.letters = _Letters()  # type: ignore[assignment]
    redriven: list[list[str]] = []

    async def redrive(bootstrap: str, letters: list, *, by: str, why: str) -> list[dict]:
        redriven.append([parked.event_id for parked in letters])
        return [{"dead_letter_id": parked.event_id} for parked in letters]

    monkeypatch.setattr("streams.pool.redrive", redrive)
    monkeypatch.setattr("streams.pool.REDRIVE_CHECK_SECONDS", 0.0)
    monkeypatch.setattr(TenantPool, "_runtime", lambda self, tenant, entry, patient=False: _started())
    await pool.redrive_tick()
    assert redriven == []  # its secret file is not there: still not served
    secret.write_text("severa-secret\n")  # the operator writes it: no configuration event
    await pool.redrive_tick()
    assert redriven == [["dlq:t:0:7"]]
    await pool.redrive_tick()
    assert redriven == [["dlq:t:0:7"]]  # once


async def _started() -> _Runtime:
    return _Runtime()
