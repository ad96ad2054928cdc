"""The pool tests' fixture: a deployment of its own (topic prefix, pool name), its workers stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.pool.deployment import Pool


@pytest.fixture
def pool(kafka, own_topics: str, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pool]:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap)
    monkeypatch.setenv("SEVPRO_TOPIC_PREFIX", own_topics)
    monkeypatch.delenv("SEVPRO_TENANT", raising=False)
    deployment = Pool(kafka.bootstrap, own_topics, f"pool{unique}", tmp_path)
    try:
        yield deployment
    finally:
        deployment.stop()
