"""A real PostgreSQL server for the tests: `initdb` into a temporary folder and `pg_ctl start` on a free loopback
port, stopped (and checked gone) at the end of the session.

PostgreSQL refuses to run as root, so under root (CI) the server runs as the `postgres` user that Debian's
package creates (or `nobody`), in a folder that user owns. Where no server can be started, the tests that need
it skip, saying why.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.ports import reserved_port

SUPERUSER = "sevpro"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server can be started here (the message says why and how to get one)."""


def find_binaries() -> Path:
    """The folder with initdb, pg_ctl and postgres: the newest /usr/lib/postgresql/*/bin, else the PATH."""
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda f: int(Path(f).parent.name)
                     if Path(f).parent.name.isdigit() else 0, reverse=True)
    for folder in folders:
        if all((Path(folder) / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(folder)
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(os.path.realpath(found)).parent
    raise PostgresUnavailable("PostgreSQL is not installed (no initdb/pg_ctl under /usr/lib/postgresql/*/bin or on "
                              "the PATH): apt-get install postgresql (.ci/run does)")


def _unprivileged_user() -> pwd.struct_passwd | None:
    """The user to run the server as: None when not root (run as oneself)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresUnavailable("running as root and there is no 'postgres' or 'nobody' user to run PostgreSQL as")


class PostgresServer:
    """One throwaway cluster; `database()` gives each test a fresh database of its own."""

    def __init__(self) -> None:
        self.bin = find_binaries()
        self.user = _unprivileged_user()
        self.folder = Path(tempfile.mkdtemp(prefix="sevpro-postgres-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = 0  # chosen at start
        self.pid: int | None = None
        self.watchdog: subprocess.Popen[bytes] | None = None

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        extra: dict[str, Any] = {}
        if self.user is not None:
            extra = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        return subprocess.run([str(self.bin / args[0]), *args[1:]], capture_output=True, text=True,
                              timeout=timeout, cwd=self.folder, env=os.environ | {"LC_ALL": "C"}, check=False,
                              **extra)

    def start(self) -> str:
        stop_abandoned(self)
        (self.folder / "owner.pid").write_text(str(os.getpid()))
        if self.user is not None:
            os.chown(self.folder, self.user.pw_uid, self.user.pw_gid)
        init = self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                         "--locale=C", "--no-sync")
        if init.returncode != 0:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise PostgresUnavailable(f"initdb failed: {(init.stderr or init.stdout).strip()[-500:]}")
        # Loopback only, the socket in the cluster's own folder; fsync off: durability of the *server* is not
        # what these tests are about (the projector is the process they kill).
        # The port is held until the server listens on it (it binds with SO_REUSEADDR): no other program on the
        # machine can take it in between, which would fail the start and skip every PostgreSQL test.
        with reserved_port() as self.port:
            options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data} -c fsync=off"
                       " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
                       " -c shared_buffers=32MB")
            started = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t",
                                "60", "start")
        self.pid = self._postmaster_pid()
        if started.returncode != 0:
            log = self.log.read_text(errors="replace")[-800:] if self.log.exists() else ""
            self.stop()
            raise PostgresUnavailable(f"pg_ctl start failed: {started.stderr.strip()[-300:]} {log}")
        if self.pid is not None:
            self._watch()
        return self.url("postgres")

    def _watch(self) -> None:
        """A watchdog outside the test session: when the session's process is gone without its teardown (killed
        by a time-out or SIGKILL), it stops the server within about a second and removes its folder."""
        script = (f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 1; done; kill -INT {self.pid}; n=0;"
                  f" while kill -0 {self.pid} 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done;"
                  f" kill -KILL {self.pid} 2>/dev/null; rm -rf {self.folder}")
        self.watchdog = subprocess.Popen(["sh", "-c", script], start_new_session=True, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _postmaster_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.data / "postmaster.pid").read_text().splitlines()[0])
        return None

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        """Stop the server and every process of it; remove its folder."""
        if self.data.exists():
            stopped = self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop", timeout=60)
            if stopped.returncode != 0 and self.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)  # its backends exit when the postmaster is gone
        for _ in range(200):
            if not self.processes():
                break
            time.sleep(0.05)
        shutil.rmtree(self.folder, ignore_errors=True)
        if self.watchdog is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.watchdog.pid, signal.SIGKILL)  # with its `sleep`
            self.watchdog.wait()

    def processes(self) -> list[int]:
        """Ids of the processes still running from this cluster (the postmaster, its backends, the watchdog)."""
        found = [self.watchdog.pid] if self.watchdog is not None and self.watchdog.poll() is None else []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, ValueError):
                stat = (entry / "stat").read_text()
                state, parent = stat[stat.rindex(")") + 2:].split()[:2]
                if state != "Z" and self.pid in (int(entry.name), int(parent)):
                    found.append(int(entry.name))
        return found


def stop_abandoned(server: PostgresServer) -> None:
    """Stop the servers of test sessions that were killed before their teardown (their owner is gone)."""
    for folder in Path(tempfile.gettempdir()).glob("sevpro-postgres-*"):
        try:
            owner = int((folder / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if owner == os.getpid() or Path(f"/proc/{owner}").exists():
            continue
        if (folder / "data").exists():
            server._run("pg_ctl", "-D", str(folder / "data"), "-m", "immediate", "-w", "stop", timeout=60)
        shutil.rmtree(folder, ignore_errors=True)
