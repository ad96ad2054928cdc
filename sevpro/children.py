"""Child processes that do not outlive the command that started them, and finding ones an earlier run left.

`die_with_parent()` is a `preexec_fn` for `subprocess.Popen`: on Linux the child asks the kernel for SIGTERM
when its parent dies (prctl PR_SET_PDEATHSIG), however the parent ends, SIGKILL included. Elsewhere it is None
(nothing is arranged: the pid files below still let the next run clean up).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that ties the child's life to this process's (Linux), or None where that is not possible."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the child only calls it
    parent = os.getpid()

    def arrange() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the request: nobody would signal us
            os.kill(os.getpid(), signal.SIGTERM)

    return arrange


def read_pid(pid_file: Path) -> int | None:
    """The pid in `pid_file` if that process still runs, else None."""
    with contextlib.suppress(OSError, ValueError):
        pid = int(pid_file.read_text().strip())
        if pid > 0 and _alive(pid):
            return pid
    return None


def command_line(pid: int) -> str:
    """The process's command line ('' if unknown): to be sure a pid file's process is still ours."""
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    return ""


def stop_group(pid: int, timeout: float = 15.0) -> None:
    """SIGTERM the process group led by `pid`, SIGKILL it if it is still there after `timeout` seconds."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(ChildProcessError):  # our own child: reap it if it has ended
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    stat = Path(f"/proc/{pid}/stat")  # a zombie still answers kill(0)
    with contextlib.suppress(OSError):
        return not stat.read_text().split(") ")[-1].startswith("Z")
    return True
