"""The console's actions on the real broker: retry a record, retry a company's transient failures, reprocess a
selection after a confirmation. Each publishes what `sevpro reprocess` publishes, with the signed-in user as the
request's `requested_by`; a refused action (no session, no or a wrong CSRF token) publishes nothing.

Every test has its own topic prefix (own_topics), so reading a topic to its end sees this test's events only:
a refused request's answer comes after its handler has finished, so what is not on the topic then never will be.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from console import testing as sample_log
from console.app import create_app
from projections import testing as ev
from projections.projector import Projector
from schemas import topics
from tests.integration.console.console_signin import signed_in
from tests.integration.pollers.kafka_read import read_events
from tests.integration.projections.test_projection_projector import publish

pytestmark = pytest.mark.integration
KIND = "sales-invoice"


def _token(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def _log(tenant: str) -> list[tuple]:
    """FI: two transient failures and a data failure; SE: one transient failure; FI: one succeeded."""
    events: list[tuple] = []
    for source_id, company, state, seconds in (
            ("fi-1", "FI", "failed_transient", 0), ("fi-2", "FI", "failed_transient", 1),
            ("fi-bad", "FI", "failed_data", 2), ("se-1", "SE", "failed_transient", 3), ("fi-ok", "FI", "succeeded", 4)):
        req = ev.requested(tenant, source_id, company=company, number=source_id.upper(), seconds=seconds)
        error = {"failed_transient": ev.transient_error(), "failed_data": ev.data_error()}.get(state)
        events += [req, ev.outcome(req[3], state, seconds=seconds + 0.5, error=error,
                                   target_id="900" if state == "succeeded" else None)]
    return events


async def _reprocessed(bootstrap: str, tenant: str) -> dict[str, dict[str, Any]]:
    on_topic = await read_events(bootstrap, topics.transfer_requested(KIND))
    return {e["source_id"]: e for e in on_topic if e["tenant"] == tenant and e["reason"] == "reprocess"}


async def test_each_action_publishes_what_reprocess_does_with_the_user_as_its_cause(kafka, own_topics, unique,
                                                                                      tmp_path: Path) -> None:
    tenant = f"t{unique}"
    await publish(kafka.bootstrap, _log(tenant))
    async with Projector(kafka.bootstrap, tmp_path / "proj") as projector:
        await projector.catch_up()
        app = create_app(tmp_path / "proj", kafka.bootstrap, auth=sample_log.auth(), refresh=None)

        def act() -> None:
            with signed_in(app) as http:
                page = http.get(f"/records/fi-bad?tenant={tenant}")
                assert page.status_code == 200
                token = _token(page)
                # 1. The record page's button.
                answer = http.post("/actions/retry", data={"csrf_token": token, "tenant": tenant, "kind": KIND,
                                                           "source_id": "fi-bad"})
                assert answer.status_code == 303 and answer.headers["location"] == f"/records/fi-bad?tenant={tenant}"
                assert "requested again" in http.get(answer.headers["location"]).text.lower()
                # 2. A company's transient failures (FI: fi-1 and fi-2; not SE's, not the data failure).
                answer = http.post("/actions/retry-company", data={"csrf_token": token, "tenant": tenant,
                                                                   "company": "FI"})
                assert answer.status_code == 303
                # 3. A selection: the confirmation lists it first, and nothing is sent by looking.
                confirm = http.get("/actions/reprocess", params={"tenant": tenant, "company": "SE"})
                assert confirm.status_code == 200 and "SE-1" in confirm.text and "FI-OK" not in confirm.text
                records = re.findall(r'name="record" value="([^"]+)"', confirm.text)
                assert len(records) == 1
                answer = http.post("/actions/reprocess", data={"csrf_token": token, "tenant": tenant,
                                                               "company": "SE", "record": records[0].replace(
                                                                   "&quot;", '"')})
                assert answer.status_code == 303

        await asyncio.to_thread(act)
        sent = await _reprocessed(kafka.bootstrap, tenant)
        assert sorted(sent) == ["fi-1", "fi-2", "fi-bad", "se-1"]
        for source_id, event in sent.items():
            assert event["requested_by"] == sample_log.USER, source_id
            assert event["event_id"] == f"{tenant}:{KIND}:{source_id}:v1:reprocess:1"
            assert event["causation_id"] == f"{tenant}:{KIND}:{source_id}:v1"

        # The audit: the record's history says who asked.
        await projector.catch_up()
        history = projector.store.history("fi-bad", tenant=tenant)
        asked = [h for h in history if h["type"] == "TransferRequested" and "reprocess" in h["summary"]]
        assert len(asked) == 1 and f"by {sample_log.USER}" in asked[0]["summary"]
        assert asked[0]["payload"]["requested_by"] == sample_log.USER


async def test_refused_actions_send_nothing_to_kafka(kafka, own_topics, unique, tmp_path: Path) -> None:
    tenant = f"t{unique}"
    await publish(kafka.bootstrap, _log(tenant))
    async with Projector(kafka.bootstrap, tmp_path / "proj") as projector:
        await projector.catch_up()
    app = create_app(tmp_path / "proj", kafka.bootstrap, auth=sample_log.auth(), refresh=None)
    retry = {"tenant": tenant, "kind": KIND, "source_id": "fi-bad"}

    def refuse() -> None:
        with signed_in(app) as http:
            token = _token(http.get("/"))
            base = str(http.base_url)
            # No session: a browser goes to the sign-in page, a script gets 401.
            with httpx.Client(base_url=base) as stranger:
                answer = stranger.post("/actions/retry", data=retry | {"csrf_token": token})
                assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
                answer = stranger.post("/api/actions/retry", data=retry, headers={"X-CSRF-Token": token})
                assert answer.status_code == 401
                # ... and after signing in, back to the page the form was on (not to the POST's address).
                answer = stranger.post("/actions/retry-company", data={"tenant": tenant, "company": "FI"},
                                       headers={"Referer": f"{base.rstrip('/')}/transfers?tenant={tenant}"})
                assert answer.status_code == 303
                assert answer.headers["location"] == f"/login?next=%2Ftransfers%3Ftenant%3D{tenant}"
            # A session, but no token or another one (what another site's form would send with the cookie).
            for data in (retry, retry | {"csrf_token": "x" * 43}):
                assert http.post("/actions/retry", data=data).status_code == 403
                assert http.post("/api/actions/retry", data=data).status_code == 403
            assert http.post("/actions/retry-company", data={"tenant": tenant, "company": "FI"}).status_code == 403
            assert http.post("/actions/reprocess", data={"tenant": tenant, "record": json.dumps(
                [tenant, KIND, "fi-bad"])}).status_code == 403
            # A GET never acts: the confirmation page only lists.
            assert http.get("/actions/reprocess", params={"tenant": tenant}).status_code == 200
            # Not a failed record: nothing to retry, and said so.
            answer = http.post("/api/actions/retry", data={"tenant": tenant, "kind": KIND, "source_id": "fi-ok"},
                               headers={"X-CSRF-Token": token})
            assert answer.status_code == 409 and "succeeded" in answer.json()["error"]

    await asyncio.to_thread(refuse)
    assert await _reprocessed(kafka.bootstrap, tenant) == {}


async def test_the_json_actions_answer_with_what_was_requested(kafka, own_topics, unique, tmp_path: Path) -> None:
    tenant = f"t{unique}"
    await publish(kafka.bootstrap, _log(tenant))
    async with Projector(kafka.bootstrap, tmp_path / "proj") as projector:
        await projector.catch_up()
    app = create_app(tmp_path / "proj", kafka.bootstrap, auth=sample_log.auth(), refresh=None)

    def act() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        with signed_in(app) as http:
            token = {"X-CSRF-Token": _token(http.get("/"))}
            listed = http.get("/api/actions/reprocess", params={"tenant": tenant, "state": "failed-transient"})
            assert listed.status_code == 200
            records = [json.dumps(r["record"]) for r in listed.json()["records"]]
            done = http.post("/api/actions/reprocess", data={"tenant": tenant, "state": "failed-transient",
                                                             "record": records}, headers=token)
            company = http.post("/api/actions/retry-company", data={"tenant": tenant, "company": "FI"},
                                headers=token)
            return listed.json(), done.json(), company.json()

    listed, done, company = await asyncio.to_thread(act)
    assert sorted(r["source_id"] for r in listed["records"]) == ["fi-1", "fi-2", "se-1"]
    assert done["requested_by"] == sample_log.USER
    assert sorted(done["requested"]) == sorted(f"{tenant}:{KIND}:{s}:v1:reprocess:1" for s in ("fi-1", "fi-2", "se-1"))
    # The projector has not seen them yet: the same ids again, which the transfer agent takes as one request.
    assert sorted(company["requested"]) == sorted(f"{tenant}:{KIND}:{s}:v1:reprocess:1" for s in ("fi-1", "fi-2"))
    sent = await _reprocessed(kafka.bootstrap, tenant)
    assert sorted(sent) == ["fi-1", "fi-2", "se-1"]
