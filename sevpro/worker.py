"""The `sevpro worker` process: faust's Worker with a deadline on stopping.

faust stops its consumer and producers gracefully on SIGTERM or SIGINT: it commits offsets, leaves the group and
flushes, and each of these waits for the broker. With the broker gone that took more than 25 s (a process
manager then escalates to SIGKILL, or an operator thinks the worker hangs). The graceful stop is still tried
first; whatever is unfinished after `STOP_DEADLINE_S` is abandoned and the process exits: nothing is lost, the
broker keeps the offsets last committed (the next worker redelivers the rest, and handlers are idempotent) and
aborts an open transaction.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

from faust import Worker

STOP_DEADLINE_S = 8.0


class DeadlineWorker(Worker):
    """A faust Worker that is gone within `STOP_DEADLINE_S` of SIGTERM or SIGINT, broker or not (at once on a
    second signal)."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        """No terminal spinner: faust's, at WARNING or above, sets the root logger to DEBUG for it, and every
        library's debug message (aiokafka logs each partition of each fetch) is then built and handed to it, a
        tenth of a busy pool worker's CPU (issue 14). A worker's output is a log, not a terminal."""
        self.spinner = None

    def _schedule_shutdown(self, signal: signal.Signals) -> None:
        if self._signal_stop_time:
            _exit_now(signal, "a second signal")
        super()._schedule_shutdown(signal)
        deadline = threading.Timer(STOP_DEADLINE_S, _exit_now, args=(signal, f"not stopped {STOP_DEADLINE_S:g} s"))
        deadline.daemon = True
        deadline.start()


def _exit_now(received: signal.Signals, why: str) -> None:
    sys.stderr.write(f"sevpro worker: {why} after {received.name} (is the broker reachable?); exiting without "
                     "a clean stop: Kafka keeps the committed offsets, the rest is delivered again\n")
    sys.stderr.flush()
    os._exit(128 + int(received))
