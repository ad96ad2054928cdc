"""faust's aiokafka driver, with at-least-once made strict.

faust only turns on the idempotent producer and read_committed consumers in its exactly_once mode, whose open
bugs (faust-streaming #517, #177, #323) we avoid. We run at_least_once with idempotent handlers, and still want
acks=all + idempotence (no duplicates from producer retries) and read_committed (never act on an aborted write).
The connection's security (TLS, SASL) is the one every other client of the project uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiokafka
from faust.auth import SASLCredentials, SSLCredentials
from faust.transport.drivers import aiokafka as driver
from faust.types.auth import CredentialsT


class ReadCommittedConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._isolation_level = "read_committed"  # read by AIOKafkaConsumer.start()
        return consumer

    def _create_client_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_client_consumer(transport)
        consumer._isolation_level = "read_committed"
        return consumer


class Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> driver.AIOKafkaConsumerThread:
        return ReadCommittedConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Producer(driver.Producer):
    def _settings_extra(self) -> dict[str, Any]:
        return {"acks": "all", "enable_idempotence": True}


class Transport(driver.Transport):
    Consumer = Consumer
    Producer = Producer


def faust_credentials(options: Mapping[str, Any]) -> CredentialsT | None:
    """The faust app's form of `foundation.kafka.security_options`: faust's driver turns it back into the same
    aiokafka arguments for every consumer and producer of the app."""
    protocol = options["security_protocol"]
    if protocol.startswith("SASL_"):
        return SASLCredentials(username=options["sasl_plain_username"], password=options["sasl_plain_password"],
                               mechanism=options["sasl_mechanism"], ssl_context=options.get("ssl_context"))
    if protocol == "SSL":
        return SSLCredentials(options["ssl_context"])
    return None
