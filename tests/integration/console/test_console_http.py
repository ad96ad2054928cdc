"""The console over a real socket: every page, the JSON API and /metrics, from a store filled with events."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from console_signin import signed_in
from prometheus_client.parser import text_string_to_metric_families

from console import testing as sample_log
from console.app import create_app
from console.lag import EndOffsets
from projections import testing as ev
from projections import versions
from projections.store import ProjectionStore
from schemas import topics

NOW = ev.at(3600)  # one hour after the sample's first event


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, sample_log.Sample]:
    root = tmp_path_factory.mktemp("console") / "proj"
    return root, sample_log.fill(root)


@pytest.fixture(scope="module")
def client(filled: tuple[Path, sample_log.Sample]) -> Iterator[httpx.Client]:
    with signed_in(create_app(filled[0], now=lambda: NOW, auth=sample_log.auth())) as http:
        yield http


@pytest.fixture
def sample(filled: tuple[Path, sample_log.Sample]) -> sample_log.Sample:
    return filled[1]


def metrics_of(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


# -- pages -------------------------------------------------------------------------------------------------
def test_overview_shows_what_needs_action_with_the_solution(client: httpx.Client, sample) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "Needs your action <span class=\"muted\">(1)</span>" in text
    # The record, field, value, message and solution of the failed-data record, escaped.
    assert f'href="/records/{sample.failed_data}?tenant=acme"' in text
    for part in ("customer.businessId", sample_log.BAD_BUSINESS_ID, "Business ID 1234567-8 is not valid",
                 html.escape(sample_log.SOLUTION)):
        assert part in text, part
    assert "<retry>" not in text and "&lt;retry&gt;" in text  # the transient message is escaped
    assert "Retrying automatically <span class=\"muted\">(1)</span>" in text
    assert 'http-equiv="refresh"' in text and 'http-equiv="refresh"' not in client.get("/?refresh=0").text


def test_overview_figures_come_from_the_events(client: httpx.Client, sample) -> None:
    data = client.get("/api/overview").json()
    totals: dict[str, int] = {}
    for row in data["counts"]:
        totals[row["state"]] = totals.get(row["state"], 0) + row["count"]
    assert totals == {"succeeded": 3, "failed-data": 1, "failed-transient": 1, "pending": 1}
    assert data["activity"]["last_hour"]["requests"] == sample.requests
    # Request → succeeded: 2.5 s, 65 s (after a transient failure) and 10 s.
    assert data["latency"]["all_time"] == {"count": 3, "p50_seconds": 10.0, "p95_seconds": 65.0,
                                           "max_seconds": 65.0}
    assert data["oldest_pending"]["source_id"] == sample.pending
    assert data["projector"]["counters"]["applied"] == sample.events
    assert data["lag"] is None
    assert {(r["code"], r["state"]) for r in data["failures_by_code"]} == {("V001", "failed-data"),
                                                                          ("T503", "failed-transient")}


def test_transfer_log_filters_and_pages(client: httpx.Client, sample) -> None:
    everything = client.get("/api/transfers").json()
    assert everything["total"] == 6 and len(everything["items"]) == 6
    updated = [i["updated_at"] for i in everything["items"]]
    assert updated == sorted(updated, reverse=True)  # newest first

    def ids(**params: str) -> list[str]:
        return [i["severa_id"] for i in client.get("/api/transfers", params=params).json()["items"]]

    assert ids(state="failed-data") == [sample.failed_data]
    assert ids(company="acme-se") == [sample.transient]
    assert ids(kind="travel-reimbursement") == [sample.travel]
    assert ids(q=sample.failed_number) == [sample.failed_data]
    assert ids(q="5002") == [sample.retried]  # the Procountor invoice number
    assert ids(q="%") == []  # LIKE wildcards are literal
    assert set(ids(since="2026-11-25T08:00:30", until="2026-11-25T08:02")) == {sample.travel, sample.retried}
    assert ids(until="2026-11-24") == []
    pages = [client.get("/api/transfers", params={"per_page": 4, "page": n}).json() for n in (1, 2)]
    assert pages[0]["pages"] == 2 and len(pages[0]["items"]) == 4 and len(pages[1]["items"]) == 2
    assert [i["severa_id"] for p in pages for i in p["items"]] == [i["severa_id"] for i in everything["items"]]

    html_page = client.get("/transfers", params={"state": "failed-data", "per_page": "1"})
    assert html_page.status_code == 200
    assert "Transfer log <span class=\"muted\">(1)</span>" in html_page.text
    assert html.escape(sample_log.SOLUTION) in html_page.text
    assert '<option value="failed-data" selected>' in html_page.text
    second = client.get("/transfers", params={"per_page": "4"}).text
    assert 'href="/transfers?per_page=4&amp;page=2"' in second  # the filters stay in the paging links


def test_bad_parameters_are_explained(client: httpx.Client) -> None:
    page = client.get("/transfers", params={"state": "lost"})
    assert page.status_code == 400 and "is not one of pending" in page.text
    api = client.get("/api/transfers", params={"since": "yesterday"})
    assert api.status_code == 400 and "not an ISO date" in api.json()["error"]
    assert client.get("/api/ids", params={"per_page": "0"}).status_code == 400


def test_record_page_has_attempts_history_and_both_systems_ids(client: httpx.Client, sample) -> None:
    page = client.get(f"/records/{sample.succeeded}")
    assert page.status_code == 200
    text = page.text
    request_id = f"acme:sales-invoice:{sample.succeeded}:v1"
    for part in (f"{request_id}:1:succeeded", f"corr-acme-{sample.succeeded}", "EntityObserved", "IdLinked",
                 f'href="/records/{sample.procountor_id}?tenant=acme"', "invoice no. 5001"):
        assert part in text, part
    assert text.index("EntityObserved") < text.index("TransferRequested") < text.index(f"{request_id}:1:succeeded")
    # The Procountor id leads back to the same record.
    back = client.get(f"/records/{sample.procountor_id}", params={"tenant": "acme"})
    assert back.status_code == 200 and f'href="/records/{sample.succeeded}?tenant=acme"' in back.text

    failed = client.get(f"/records/{sample.failed_data}").text
    assert "Not transferred: the data needs fixing." in failed and html.escape(sample_log.SOLUTION) in failed

    missing = client.get("/records/<nobody>")
    assert missing.status_code == 404 and "&lt;nobody&gt;" in missing.text and "<nobody>" not in missing.text
    assert client.get("/search", params={"q": "1003"}, follow_redirects=True).url.path == "/records/1003"


def test_record_api(client: httpx.Client, sample) -> None:
    data = client.get(f"/api/records/{sample.retried}").json()
    (entry,) = data["transfers"]
    assert [(a["attempt"], a["result"]) for a in entry["attempts"]] == [(1, "failed_transient"), (2, "succeeded")]
    assert entry["adopted"] is True and entry["procountor_id"] == "9002"
    assert all(h["correlation_id"] == f"corr-acme-{sample.retried}" for h in data["history"])
    assert [h["causation_id"] for h in data["history"][1:]] == [f"acme:sales-invoice:{sample.retried}:v1"] * 4
    assert client.get("/api/records/nothing-here").status_code == 404


def test_id_map_filters(client: httpx.Client) -> None:
    assert client.get("/api/ids").json()["total"] == 4
    assert [m["procountor_id"] for m in client.get("/api/ids", params={"kind": "customer"}).json()["items"]] == ["501"]
    assert [m["severa_key"] for m in client.get("/api/ids", params={"q": "JANE"}).json()["items"]] == [
        "jane@example.com"]
    assert client.get("/api/ids", params={"company": "acme-se"}).json()["total"] == 1
    page = client.get("/ids", params={"kind": "invoice"})
    assert page.status_code == 200 and "ID map <span class=\"muted\">(1)</span>" in page.text
    assert 'href="/records/9001?tenant=acme"' in page.text
    assert client.get("/api/facets").json()["link_kind"] == ["customer", "invoice", "person", "product"]


# -- metrics -----------------------------------------------------------------------------------------------
def test_metrics_are_built_from_the_store(client: httpx.Client, sample) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    m = metrics_of(response.text)

    def transfers(company: str, kind: str, state: str) -> float:
        return m[("sevpro_transfers", (("company", company), ("kind", kind), ("state", state), ("tenant", "acme")))]

    assert transfers("acme-fi", "sales-invoice", "succeeded") == 2
    assert transfers("acme-fi", "sales-invoice", "failed-data") == 1
    assert transfers("acme-se", "sales-invoice", "failed-data") == 0  # zeros too, so alerts resolve
    assert m[("sevpro_transfer_failures", (("code", "V001"), ("kind", "sales-invoice"), ("state", "failed-data")))] == 1
    assert m[("sevpro_transfer_requests_total", (("kind", "sales-invoice"),))] == 5
    assert m[("sevpro_transfer_latency_seconds_count", ())] == 3
    assert m[("sevpro_transfer_latency_seconds_bucket", (("le", "5.0"),))] == 1
    assert m[("sevpro_transfer_latency_seconds_sum", ())] == pytest.approx(2.5 + 65 + 10)
    assert m[("sevpro_projection_records_total", (("result", "applied"),))] == sample.events
    links_lag = ("sevpro_projection_lag", (("partition", "0"), ("topic", topics.registry_links())))
    assert links_lag not in m  # no bootstrap


async def _ends(bootstrap: str) -> EndOffsets:
    assert bootstrap == "broker:9092"
    return {(topics.transfer_requested("sales-invoice"), 0): 10, (topics.registry_links(), 0): 4,
            (topics.dead_letter(), 0): 2}


async def _unreachable(bootstrap: str) -> EndOffsets:
    raise ConnectionError("no broker at " + bootstrap)


def test_lag_from_end_offsets(filled: tuple[Path, sample_log.Sample]) -> None:
    app = create_app(filled[0], "broker:9092", now=lambda: NOW, end_offsets=_ends, auth=sample_log.auth())
    with signed_in(app) as http:
        m = metrics_of(http.get("/metrics").text)
        lag = http.get("/api/overview").json()["lag"]
        overview = http.get("/").text
    # The sample applied offsets 0..4 of the request topic and 0..3 of the links; nothing of the dead letters.
    requests = topics.transfer_requested("sales-invoice")
    assert m[("sevpro_projection_lag", (("partition", "0"), ("topic", requests)))] == 5
    assert m[("sevpro_projection_lag", (("partition", "0"), ("topic", topics.registry_links())))] == 0
    assert m[("sevpro_projection_lag", (("partition", "0"), ("topic", topics.dead_letter())))] == 2
    assert m[("sevpro_kafka_up", ())] == 1
    assert lag["total"] == 7 and lag["error"] is None
    assert "7 offsets behind broker:9092" in overview

    app = create_app(filled[0], "gone:1", end_offsets=_unreachable, auth=sample_log.auth())
    with signed_in(app) as http:
        m = metrics_of(http.get("/metrics").text)
        overview = http.get("/").text
    assert m[("sevpro_kafka_up", ())] == 0
    assert "Kafka unreachable" in overview and "no broker at gone:1" in overview


# -- follows a replay, and an empty store ------------------------------------------------------------------
def test_follows_a_replay_switch(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    sample_log.fill(root)
    with signed_in(create_app(root, auth=sample_log.auth())) as http:
        assert http.get("/api/transfers").json()["total"] == 6
        version = versions.reserve_next(root)
        with ProjectionStore(root, version=version, follow=False) as rebuilt:
            _, _, _, request = first = ev.requested("other", "inv-x", number="9")
            rebuilt.apply_records(ev.Feed()(first, ev.outcome(request, "failed_data", error=ev.data_error(
                message="<script>alert(1)</script>"))))
        versions.switch_to(root, version)
        assert [i["severa_id"] for i in http.get("/api/transfers").json()["items"]] == ["inv-x"]
        overview = http.get("/").text
        assert "<script>alert(1)</script>" not in overview and "&lt;script&gt;alert(1)&lt;/script&gt;" in overview
        assert metrics_of(http.get("/metrics").text)[("sevpro_projection_version", ())] == version


def test_an_empty_store_renders_every_page(tmp_path: Path) -> None:
    with signed_in(create_app(tmp_path / "empty", auth=sample_log.auth())) as http:
        for path in ("/", "/transfers", "/ids", "/metrics", "/api/overview", "/api/transfers", "/api/ids",
                     "/healthz"):
            assert http.get(path).status_code == 200, path
        assert "No record needs a user&#x27;s action." in http.get("/").text
        assert http.get("/api/overview").json()["latency"]["all_time"]["p50_seconds"] is None


def test_a_record_with_nothing_to_write_says_why(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _, _, _, request = requested = ev.requested("acme", "proj-7", number="2026007", kind="dimension-item")
    with ProjectionStore(root) as store:
        store.apply_records(ev.Feed()(requested, ev.outcome(
            request, "skipped", attempt=0, target_id="66", target_number="2026007",
            note="the item is closed already <as in Procountor>")))
    with signed_in(create_app(root, auth=sample_log.auth())) as http:
        page = http.get("/records/proj-7").text
        assert "Nothing to write:</strong> the item is closed already &lt;as in Procountor&gt;" in page
        assert http.get("/api/records/proj-7").json()["transfers"][0]["note"].startswith("the item is closed")


def test_a_tenant_filter_includes_its_companies_purchase_imports(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    with ProjectionStore(root) as store:
        store.apply_records(ev.Feed()(ev.requested("acme", "inv-1"),
                                      ev.requested("acme/FI", "buy-1", kind="purchase-invoice", seconds=1),
                                      ev.requested("acme2", "inv-2", seconds=2)))
    with signed_in(create_app(root, auth=sample_log.auth())) as http:
        listed = http.get("/api/transfers", params={"tenant": "acme"}).json()
        assert sorted(i["severa_id"] for i in listed["items"]) == ["buy-1", "inv-1"]


def test_a_configuration_error_is_shown_as_settings_to_fix_not_data(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _, _, _, request = requested = ev.requested("acme", "inv-cfg", number="10012")
    error = {"code": "SEVERA_FORBIDDEN", "kind": "config", "record": "sales invoice 10012", "field": None,
             "value": None, "message": "SeveraForbidden: 403 InsufficientApiScope: customers:read",
             "solution": "Grant the integration's API client the scope in Severa's settings"}
    with ProjectionStore(root) as store:
        store.apply_records(ev.Feed()(requested, ev.outcome(request, "failed_config", error=error)))
    with signed_in(create_app(root, now=lambda: NOW, auth=sample_log.auth())) as http:
        overview = http.get("/").text
        assert "Settings refused" in overview and "InsufficientApiScope" in overview
        assert "Grant the integration&#x27;s API client the scope" in overview
        assert http.get("/api/overview").json()["failed_config"]["total"] == 1
        page = http.get("/records/inv-cfg").text
        assert "Not transferred: an API refused the integration&#x27;s settings." in page  # escaped, as every text
        listed = http.get("/api/transfers", params={"state": "failed-config"}).json()
        assert [i["severa_id"] for i in listed["items"]] == ["inv-cfg"]
        metrics = http.get("/metrics").text
        assert 'state="failed-config"' in metrics


def test_a_record_with_a_totals_warning_shows_it(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _, _, _, request = requested = ev.requested("acme", "inv-9", number="10009")
    warning = "Procountor's totals differ from Severa's by more than 0.01 per VAT rate (1 rate): VAT Severa 0.13, " \
              "Procountor 0.15 <check>"
    with ProjectionStore(root) as store:
        store.apply_records(ev.Feed()(requested, ev.outcome(request, "succeeded", target_id="88", warning=warning)))
    with signed_in(create_app(root, auth=sample_log.auth())) as http:
        page = http.get("/records/inv-9").text
        assert "Check this invoice:</strong> Procountor&#x27;s totals differ" in page and "&lt;check&gt;" in page
        assert http.get("/api/records/inv-9").json()["transfers"][0]["warning"] == warning
