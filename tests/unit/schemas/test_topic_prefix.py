"""Every topic, consumer group and transactional id of a deployment carries its prefix (prefixed ACLs)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from foundation.settings import Settings
from schemas import topics
from streams.app import app_id


@pytest.fixture
def deployment() -> Iterator[None]:
    topics.configure("acme-billing.")
    yield
    topics.configure(topics.DEFAULT_PREFIX)


def _every_name() -> list[str]:
    return [*topics.all_topics(), *topics.config_topics(), topics.smoke_in(), topics.smoke_out(), *topics.compacted(),
            topics.leader_topic(app_id(Settings(tenant="t1")))]


def test_the_default_prefix_is_sevpro() -> None:
    assert all(name.startswith("sevpro.") for name in _every_name())
    assert app_id(Settings(tenant="t1")) == "sevpro.t1"
    assert topics.transfer_requested("sales-invoice") == "sevpro.transfer.sales-invoice.requested"


def test_a_deployment_prefix_is_on_every_name(deployment: None) -> None:
    names = _every_name()
    assert all(name.startswith("acme-billing.") for name in names), names
    # the compacted ones are among all_topics and config_topics
    assert len(set(names)) == len(topics.all_topics()) + len(topics.config_topics()) + 3
    assert app_id(Settings(tenant="t1", app_id="replay-1")) == "acme-billing.replay-1"
    assert topics.named("poller-severa-t1") == "acme-billing.poller-severa-t1"


@pytest.mark.parametrize("prefix", ["acme billing.", "acme/", "ä."])
def test_a_prefix_kafka_would_refuse_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="only letters"):
        topics.configure(prefix)
    with pytest.raises(ValueError, match="SEVPRO_TOPIC_PREFIX|topic_prefix"):
        Settings(topic_prefix=prefix)
    assert topics.prefix() == topics.DEFAULT_PREFIX


def test_a_command_refuses_a_prefix_kafka_would_refuse(tmp_path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEVPRO_", "KAFKA_"))}
    env |= {"SEVPRO_TOPIC_PREFIX": "acme billing.", "COLUMNS": "300"}
    result = subprocess.run([sys.executable, "-m", "sevpro.cli", "replay", "--db", str(tmp_path)], capture_output=True,
                            text=True, timeout=60, env=env)
    assert result.returncode == 1 and "SEVPRO_TOPIC_PREFIX" in result.stdout, result.stdout + result.stderr
    assert "replaying" not in result.stdout  # it stopped before looking at any topic
