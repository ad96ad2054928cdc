"""`sevpro worker --loglevel warning` keeps the root logger at WARNING. faust's Worker, at WARNING or above, adds a
terminal spinner handler and sets the root logger to DEBUG, so that every library's debug message (aiokafka's
fetcher logs each partition of each fetch) was built as a LogRecord and handed to the spinner: 13 % of a pool
worker's CPU in the tenants benchmark (issue 14)."""

from __future__ import annotations

import io
import logging

import faust

from sevpro.worker import DeadlineWorker


def test_a_warning_level_worker_builds_no_debug_records() -> None:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    app = faust.App("test-worker-logging", broker="kafka://127.0.0.1:1")
    try:
        worker = DeadlineWorker(app, loglevel="warning", stdout=io.StringIO(), stderr=io.StringIO())
        worker._setup_logging()  # noqa: SLF001 - what execute_from_commandline does first

        assert root.getEffectiveLevel() == logging.WARNING
        assert not logging.getLogger("aiokafka.consumer.fetcher").isEnabledFor(logging.DEBUG)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
