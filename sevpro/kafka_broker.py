"""A real Apache Kafka broker for development, tests and the demo.

A single-node KRaft broker (combined broker + controller) that we assemble from the Apache Kafka jars on
Maven Central with `mvn dependency:copy-dependencies`, cached under `.sevpro/kafka/`. Only `sevpro kafka up`
and `sevpro demo` start one; the other commands find a broker (`find_bootstrap`) and never start one.

Kafka 4.4.0 is the newest release; aiokafka 0.14.0 and faust-streaming 0.15.3 work against it
(`tests/integration/test_kafka_broker.py` proves it on every run).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from foundation.paths import project_home
from sevpro import children

KAFKA_VERSION = "4.4.0"
_POM = "pom.xml"
_LOG_CONFIG = "log4j2.properties"
_RESOURCES = Path(__file__).parent / "kafka"  # the POM and the broker's log configuration


class BrokerError(RuntimeError):
    """The broker could not be prepared, started or stopped; the message says why and what to do."""


@dataclass(frozen=True)
class BrokerSecurity:
    """A broker as a secured cluster runs it: clients on a SASL_SSL listener with SCRAM users, optionally ACLs.

    For tests of the project's own security; the default broker (`security=None`) stays plaintext. The
    certificate files are made by whoever asks for the broker (the broker's must name 127.0.0.1).
    """

    keystore: Path  # PKCS12 with the broker's key and certificate
    keystore_password: str
    ca_file: Path  # PEM: the CA the broker's own connections to itself (inter-broker) trust
    admin: tuple[str, str]  # (user, password): inter-broker traffic, and the super user when ACLs are on
    users: dict[str, str] = field(default_factory=dict)  # further SCRAM users, name -> password
    acls: bool = False  # StandardAuthorizer: nothing is allowed without an ACL (except to the super user)

    def client_options(self, user: str | None = None, password: str | None = None,
                       mechanism: str = "SCRAM-SHA-512") -> dict[str, object]:
        """aiokafka's arguments to connect as `user` (the admin by default)."""
        from aiokafka.helpers import create_ssl_context

        name, secret = (user, password) if user is not None else self.admin
        return {"security_protocol": "SASL_SSL", "ssl_context": create_ssl_context(cafile=self.ca_file),
                "sasl_mechanism": mechanism, "sasl_plain_username": name,
                "sasl_plain_password": secret if secret is not None else self.users[name]}

    def properties(self) -> list[str]:
        admin, password = self.admin
        jaas = (f'org.apache.kafka.common.security.scram.ScramLoginModule required username="{admin}" '
                f'password="{password}";')
        lines = [
            "inter.broker.listener.name=SASL_SSL",
            "sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
            # One login module per mechanism; the admin's credentials are what the broker uses to reach itself.
            f"listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config={jaas}",
            f"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={jaas}",
            "ssl.keystore.type=PKCS12",
            f"ssl.keystore.location={self.keystore}",
            f"ssl.keystore.password={self.keystore_password}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={self.ca_file}",
        ]
        if self.acls:
            # The controller listener is plaintext on loopback, where the broker itself is ANONYMOUS; clients
            # come in on the SASL_SSL listener only, always as an authenticated user.
            lines += ["authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                      f"super.users=User:{admin};User:ANONYMOUS"]
        return lines

    def scram_arguments(self) -> list[str]:
        """StorageTool's --add-scram for every user: in KRaft, SCRAM users exist from the first start."""
        users = {self.admin[0]: self.admin[1], **self.users}
        return [arg for name, password in users.items() for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512")
                for arg in ("--add-scram", f"{mechanism}=[name={name},password={password}]")]


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    bootstrap: str
    pid: int | None
    log_file: Path
    data_dir: Path




def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


_PORT_ATTEMPTS = 5  # starts on newly chosen ports before giving up (each lost only to a bind in between)


def _any_free_port() -> int:
    """A port on 127.0.0.1 nothing listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); /proc tells the truth.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


class LocalKafkaBroker:
    """A KRaft broker run from Maven Central jars, as a child process with a pid file.

    `start` is idempotent: a broker already running from the same home is reused. A port of 0 (client or
    controller) is any free one: chosen when the broker starts, and chosen again when another program takes it
    between the choice and the broker's bind (a port picked in advance and handed over is a race on a shared
    machine); `bootstrap` names the port in use once started.
    """

    def __init__(self, home: Path | None = None, port: int = 9092, controller_port: int | None = None,
                 version: str = KAFKA_VERSION, name: str = "dev", security: BrokerSecurity | None = None) -> None:
        self.home = (home or project_home()) / "kafka"
        self.version = version
        # Port 0: any free port, chosen at start (and chosen again if another program binds it first).
        self.port = port
        self.controller_port = controller_port if controller_port is not None else (port + 1 if port else 0)
        self.libs = self.home / "jars" / version
        self.run_dir = self.home / name  # "dev" for `sevpro kafka up`, "test" for pytest
        self.data_dir = self.run_dir / "data"
        self.log_dir = self.run_dir / "logs"
        self.pid_file = self.run_dir / "broker.pid"
        self.port_file = self.run_dir / "broker.port"
        self.security = security

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "broker.log"

    # -- jars -------------------------------------------------------------------------------------------
    def ensure_jars(self) -> Path:
        """Resolve the broker's jars with Maven once; later calls reuse the cache."""
        marker = self.libs / ".complete"
        if marker.exists():
            return self.libs
        if shutil.which("mvn") is None:
            raise BrokerError("Maven (mvn) is not installed: it is needed once to fetch the Kafka jars.")
        self.libs.mkdir(parents=True, exist_ok=True)
        pom = self.home / "pom.xml"
        pom.write_text((_RESOURCES / _POM).read_text())
        cmd = ["mvn", "-q", "-B", "-f", str(pom), "dependency:copy-dependencies", f"-Dkafka.version={self.version}",
               "-DincludeScope=runtime", f"-DoutputDirectory={self.libs}"]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            output = result.stdout[-2000:] + result.stderr[-2000:]
            raise BrokerError(f"mvn could not resolve Kafka {self.version}:\n{output}")
        marker.write_text(self.version)
        return self.libs

    # -- lifecycle --------------------------------------------------------------------------------------
    def _running_pid(self) -> int | None:
        if not self.pid_file.exists():
            return None
        pid = int(self.pid_file.read_text().strip() or 0)
        return pid if pid and _pid_alive(pid) else None

    def status(self) -> BrokerStatus:
        pid = self._running_pid()
        if pid and self.port_file.exists():
            # "<port> <controller port>" (a file of an older launcher has the port alone: the controller's is +1)
            ports = [int(p) for p in self.port_file.read_text().split()]
            self.port, self.controller_port = ports[0], ports[1] if len(ports) > 1 else ports[0] + 1
        running = pid is not None and port_open("127.0.0.1", self.port)
        return BrokerStatus(running, self.bootstrap, pid, self.log_file, self.data_dir)

    def client_options(self) -> dict[str, object]:
        """aiokafka's arguments to talk to this broker as its administrator."""
        return self.security.client_options() if self.security else {"security_protocol": "PLAINTEXT"}

    def _properties(self) -> str:
        listener = "SASL_SSL" if self.security else "PLAINTEXT"
        # Comments must stand on their own lines: after a value, '#' is part of the value.
        return "\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}",
            f"listeners={listener}://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners={listener}://127.0.0.1:{self.port}",
            "controller.listener.names=CONTROLLER",
            f"listener.security.protocol.map=CONTROLLER:PLAINTEXT,{listener}:{listener}",
            *(self.security.properties() if self.security else []),
            f"log.dirs={self.data_dir}",
            "num.partitions=4",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=4",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "transaction.state.log.num.partitions=4",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            # Compaction runs soon enough that tests can see it.
            "log.cleaner.backoff.ms=1000",
            "",
        ])

    def start(self, timeout: float = 90.0, *, die_with_parent: bool = False) -> BrokerStatus:
        """Start the broker (or find it running); with `die_with_parent` it stops when this process ends, however
        it ends (the demo's broker; `sevpro kafka up`'s outlives the command)."""
        current = self.status()
        if current.running:
            return current
        if current.pid:  # a process without an answering port: a broker still starting or stuck
            self.stop()
        any_port, any_controller_port = self.port == 0, self.controller_port == 0
        for port, chosen in ((self.port, any_port), (self.controller_port, any_controller_port)):
            if not chosen and not _port_free(port):
                raise BrokerError(
                    f"port {port} on 127.0.0.1 is already in use by another program; stop it, or choose "
                    f"another port with `sevpro kafka up --port N` (the controller uses N+1)."
                )
        java = shutil.which("java")
        if java is None:
            raise BrokerError("Java 17+ is needed to run the Kafka broker; install a JDK (java not on PATH).")
        libs = self.ensure_jars()
        for _attempt in range(_PORT_ATTEMPTS if any_port or any_controller_port else 1):
            chosen_ports = []
            if any_port:
                self.port = _any_free_port()
                chosen_ports.append(self.port)
            if any_controller_port:
                self.controller_port = _any_free_port()
                chosen_ports.append(self.controller_port)
            if chosen_ports and not all(map(_port_free, (self.port, self.controller_port))):
                continue  # both chose the same port, or one chosen just now was taken meanwhile: choose again
            status = self._launch(java, libs, timeout, die_with_parent, chosen_ports)
            if status is not None:
                return status
        self.port, self.controller_port = (0 if any_port else self.port), (0 if any_controller_port else
                                                                             self.controller_port)
        raise BrokerError(f"no free ports for the broker after {_PORT_ATTEMPTS} tries: other programs took each "
                          f"port chosen before the broker could bind it; see {self.log_file}")

    def _launch(self, java: str, libs: Path, timeout: float, die_with_parent: bool,
                chosen_ports: list[int]) -> BrokerStatus | None:
        """One start on the current ports; None when another program bound one of `chosen_ports` (chosen for this
        start, any free port) before the broker could: a start on others may succeed."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        props = self.run_dir / "server.properties"
        props.write_text(self._properties())
        log_config = self.run_dir / _LOG_CONFIG
        log_config.write_text((_RESOURCES / _LOG_CONFIG).read_text())
        classpath = f"{libs}/*"
        jvm_logging = [f"-Dlog4j2.configurationFile={log_config}", f"-Dkafka.logs.dir={self.log_dir}"]
        formatted_now = not (self.data_dir / "meta.properties").exists()
        if formatted_now:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            cluster_id = _kafka_uuid()
            fmt = subprocess.run(
                [java, *jvm_logging, "-cp", classpath, "kafka.tools.StorageTool", "format", "--standalone",
                 "-t", cluster_id, "-c", str(props), *(self.security.scram_arguments() if self.security else [])],
                capture_output=True, text=True, timeout=120,
            )
            if fmt.returncode != 0:
                raise BrokerError(f"formatting the broker storage failed:\n{fmt.stdout}{fmt.stderr}")
        log_start = self.log_file.stat().st_size if self.log_file.exists() else 0
        console = open(self.log_dir / "console.log", "ab")  # noqa: SIM115 - handed to the child process
        # -Xms/-Xmx equal (KAFKA-19890); 512 MB is plenty for tests on a 2-core machine.
        proc = subprocess.Popen(
            [java, "-Xms512m", "-Xmx512m", "-XX:+UseG1GC", *jvm_logging, "-cp", classpath, "kafka.Kafka",
             str(props)],
            stdout=console, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=children.die_with_parent() if die_with_parent else None,
        )
        console.close()
        self.pid_file.write_text(str(proc.pid))
        self.port_file.write_text(f"{self.port} {self.controller_port}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                if formatted_now and self._bind_failed(log_start, chosen_ports):
                    shutil.rmtree(self.data_dir, ignore_errors=True)  # its voter record names the old port
                    return None
                raise BrokerError(f"the broker exited with code {proc.returncode}; see {self.log_file}")
            # The port opens before the broker has a controller; and it may be another program's that took it.
            if port_open("127.0.0.1", self.port) and _answers_metadata(self.bootstrap, self.client_options()):
                return self.status()
            time.sleep(0.2)
        self.stop()
        raise BrokerError(f"the broker did not answer on {self.bootstrap} within {timeout:.0f}s; see {self.log_file}")

    def _bind_failed(self, log_start: int, ports: list[int]) -> bool:
        """Whether the broker's log since `log_start` says it could not bind one of `ports`."""
        if not self.log_file.exists():
            return False
        with self.log_file.open("rb") as log:
            log.seek(log_start)
            text = log.read().decode(errors="replace")
        return any(f"failed to bind to 127.0.0.1:{port}:" in text for port in ports)

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the broker (SIGTERM, then SIGKILL); True if one was running."""
        pid = self._running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _pid_alive(pid) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.1)
        if _pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            time.sleep(0.2)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        self.pid_file.unlink(missing_ok=True)
        return True

    def reset(self) -> None:
        """Stop and delete the broker's data (the jar cache stays)."""
        self.stop()
        shutil.rmtree(self.run_dir, ignore_errors=True)


def _kafka_uuid() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (what StorageTool random-uuid prints)."""
    import base64

    while True:  # as Kafka's own Uuid: never a leading '-', which the storage tool would read as an option
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _answers_metadata(bootstrap: str, security: dict[str, object]) -> bool:
    """Whether a Kafka client gets cluster metadata from `bootstrap` (one try)."""
    import asyncio

    from foundation.kafka import admin_client

    async def probe() -> bool:
        admin = admin_client(bootstrap, security=security, request_timeout_ms=3000)
        try:
            await admin.start()
            await admin.list_topics()
            return True
        except Exception:
            return False
        finally:
            await admin.close()

    return asyncio.run(probe())


def docker_available() -> bool:
    """True when a Docker engine answers (not merely when the client is installed)."""
    if shutil.which("docker") is None and not Path("/var/run/docker.sock").exists():
        return False
    try:
        import docker  # testcontainers depends on it

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@dataclass
class ResolvedBroker:
    """The test suite's broker (tests/conftest.py): where it is and who provided it."""

    bootstrap: str
    source: str  # "env", "testcontainers" or "local-jars"


class BrokerNotFound(BrokerError):
    """No broker to use; the message says where the command looked and how to point it at one."""


def _demo_record() -> Path:
    return project_home() / "demo-kafka.json"


def record_demo_broker(bootstrap: str, pid: int | None = None) -> None:
    """While `sevpro demo` runs, the other commands (in other shells) use its broker."""
    record = _demo_record()
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"bootstrap": bootstrap, "pid": pid or os.getpid()}))


def forget_demo_broker() -> None:
    with contextlib.suppress(FileNotFoundError):
        if json.loads(_demo_record().read_text()).get("pid") == os.getpid():
            _demo_record().unlink()


def _running_demo() -> str | None:
    """The recorded demo's broker, if that demo still runs (a demo killed with -9 leaves its record behind)."""
    try:
        record = json.loads(_demo_record().read_text())
    except (FileNotFoundError, ValueError):
        return None
    return record["bootstrap"] if _pid_alive(int(record.get("pid", 0))) else None


def find_bootstrap(explicit: str | None = None) -> str:
    """The broker a command uses; never starts one (only `sevpro kafka up` and `sevpro demo` do).

    In order: --bootstrap, KAFKA_BOOTSTRAP_SERVERS, the broker of a running `sevpro demo`, the development broker
    of `sevpro kafka up` when it runs."""
    if explicit:
        return explicit
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    demo = _running_demo()
    if demo:
        return demo
    dev = LocalKafkaBroker().status()
    if dev.running:
        return dev.bootstrap
    raise BrokerNotFound(
        f"no Kafka broker found: KAFKA_BOOTSTRAP_SERVERS is not set, no `sevpro demo` is running (it records its "
        f"broker in {_demo_record()}), and the development broker of `sevpro kafka up` is not running (looked in "
        f"{dev.data_dir.parent}); point at a broker with --bootstrap HOST:PORT or KAFKA_BOOTSTRAP_SERVERS, or start "
        "one with `sevpro kafka up`")
