"""`/metrics`: Prometheus text built from the read models on each scrape.

A custom Collector instead of process-global counters: the figures are facts of the event log (the read models
are rebuilt from it), so every console process, restarted or not, reports the same numbers, and a replay does
not make a counter jump. Counters that only grow with the log (requests, outcomes) are exposed as counters;
the current state of records as gauges.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from console.lag import Lag
from console.queries import ConsoleQueries
from projections.apply import STATES

# Seconds from a transfer request to its success: a worker at the APIs' rate limits takes seconds; a backlog,
# a retry with backoff or a broker outage takes minutes to hours.
LATENCY_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600, 4 * 3600, 24 * 3600)


class ProjectionCollector(Collector):
    def __init__(self, queries: ConsoleQueries, lag: Lag | None = None) -> None:
        self.queries = queries
        self.lag = lag

    def collect(self) -> Iterable[Metric]:
        q = self.queries
        transfers = GaugeMetricFamily("sevpro_transfers", "Records in the transfer log by state now.",
                                      labels=["tenant", "company", "kind", "state"])
        counts = q.state_counts()
        seen: set[tuple[str, str, str]] = set()
        for row in counts:
            seen.add((row["tenant"], row["company"] or "", row["kind"]))
            transfers.add_metric([row["tenant"], row["company"] or "", row["kind"], row["state"]], row["count"])
        # Every state of every series that exists, zeros included, so that alerts on "failed-data > 0" resolve.
        counted = {(r["tenant"], r["company"] or "", r["kind"], r["state"]) for r in counts}
        for tenant, company, kind in sorted(seen):
            for state in STATES:
                if (tenant, company, kind, state) not in counted:
                    transfers.add_metric([tenant, company, kind, state], 0)
        yield transfers

        failures = GaugeMetricFamily("sevpro_transfer_failures", "Records failed now, by error code.",
                                     labels=["kind", "state", "code"])
        for row in q.failures_by_code():
            failures.add_metric([row["kind"], row["state"], row["code"]], row["count"])
        yield failures

        yield from self._activity()
        yield from self._projector()

    def _activity(self) -> Iterable[Metric]:
        requests, outcomes = self.queries.event_totals()
        total = CounterMetricFamily("sevpro_transfer_requests", "Transfer requests in the event log.",
                                    labels=["kind"])
        for kind, count in requests:
            total.add_metric([kind], count)
        yield total
        ends = CounterMetricFamily("sevpro_transfer_outcomes", "Terminal transfer outcomes in the event log.",
                                   labels=["kind", "state"])
        for kind, state, count in outcomes:
            ends.add_metric([kind, state], count)
        yield ends

        latency = self.queries.latency()
        buckets = [(floatToGoString(bound), sum(1 for s in latency.samples if s <= bound)) for bound in LATENCY_BUCKETS]
        buckets.append(("+Inf", latency.count))
        yield HistogramMetricFamily("sevpro_transfer_latency_seconds",
                                    "Seconds from a transfer request to its first succeeded or skipped outcome.",
                                    buckets=buckets, sum_value=sum(latency.samples))

    def _projector(self) -> Iterable[Metric]:
        info = self.queries.projector()
        yield GaugeMetricFamily("sevpro_projection_version", "Version of the read models being read.",
                                value=info["version"])
        events = CounterMetricFamily("sevpro_projection_records", "Records the projector handled, by result.",
                                     labels=["result"])
        for name in ("records", "applied", "duplicates", "undecodable"):
            events.add_metric([name], info["counters"].get(name, 0))
        yield events
        applied = GaugeMetricFamily("sevpro_projection_applied_offset", "Last offset applied to the read models.",
                                    labels=["topic", "partition"])
        for entry in info["offsets"]:
            applied.add_metric([entry["topic"], str(entry["partition"])], entry["offset"])
        yield applied
        if self.lag is None:
            return
        yield GaugeMetricFamily("sevpro_kafka_up", "1 when the console could read the topics' end offsets.",
                                value=0 if self.lag.error else 1)
        if self.lag.error:
            return
        end = GaugeMetricFamily("sevpro_projection_end_offset", "End offset of the topic partition (committed).",
                                labels=["topic", "partition"])
        behind = GaugeMetricFamily("sevpro_projection_lag", "Offsets not applied to the read models yet"
                                   " (transaction markers count: 1 can mean caught up).", labels=["topic", "partition"])
        for p in self.lag.partitions:
            end.add_metric([p["topic"], str(p["partition"])], p["end_offset"])
            behind.add_metric([p["topic"], str(p["partition"])], p["lag"])
        yield end
        yield behind


def render(queries: ConsoleQueries, lag: Lag | None = None) -> bytes:
    """The exposition text of one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProjectionCollector(queries, lag))
    return generate_latest(registry)
