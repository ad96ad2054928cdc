"""Versions of the read models on disk, and the pointer that names the current one.

    <root>/current        "v3.sqlite": the version readers use
    <root>/v3.sqlite      one complete SQLite database per version (plus its -wal and -shm files)

A replay builds `v<N+1>.sqlite` next to the live one and then replaces `current` with `os.replace`, which is
atomic on POSIX: a reader sees either the old complete version or the new complete version, never half a
rebuild. The previous version is kept (an operator can switch back by editing `current`); older ones go.

`root` may also be a postgresql:// URL: then a version is a schema and `current` a one-row table
(projections/postgres.py), with the same guarantees.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from projections import postgres

Location = Path | str  # a folder of SQLite versions, or the URL of a PostgreSQL database
POINTER = "current"
_VERSION_FILE = re.compile(r"^v(\d+)\.sqlite$")


def version_path(root: Path, version: int) -> Path:
    return root / f"v{version}.sqlite"


def versions(root: Location) -> list[int]:
    """Every version present under `root`, ascending."""
    if isinstance(root, str):
        return postgres.versions(root)
    if not root.exists():
        return []
    found = (_VERSION_FILE.match(p.name) for p in root.iterdir())
    return sorted(int(m.group(1)) for m in found if m)


def current_version(root: Location) -> int | None:
    """The version `current` names, or None before the first one exists."""
    if isinstance(root, str):
        return postgres.current_version(root)
    try:
        text = (root / POINTER).read_text().strip()
    except FileNotFoundError:
        return None
    match = _VERSION_FILE.match(text)
    return int(match.group(1)) if match else None


def switch_to(root: Location, version: int) -> None:
    """Make `version` current in one atomic rename (PostgreSQL: one update of the pointer)."""
    if isinstance(root, str):
        postgres.switch_to(root, version)
        return
    tmp = root / f".{POINTER}.{os.getpid()}.tmp"
    tmp.write_text(version_path(root, version).name + "\n")
    os.replace(tmp, root / POINTER)


def reserve_next(root: Location) -> int:
    """A new version number whose file nobody else has claimed (two replays at once get different ones)."""
    if isinstance(root, str):
        return postgres.reserve_next(root)
    root.mkdir(parents=True, exist_ok=True)
    candidate = max(versions(root) + [current_version(root) or 0]) + 1
    while True:
        try:
            fd = os.open(version_path(root, candidate), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            candidate += 1
            continue
        os.close(fd)
        return candidate


def prune(root: Location, keep: int = 2) -> list[int]:
    """Delete versions older than the current one, keeping the `keep - 1` newest of them; returns those deleted.

    Versions newer than the current one are a replay still building: they are left alone."""
    current = current_version(root)
    if current is None:
        return []
    others = [v for v in versions(root) if v < current]
    doomed = others[: max(0, len(others) - (keep - 1))]
    for version in doomed:
        remove(root, version)
    return doomed


def remove(root: Location, version: int) -> None:
    """Delete one version's database (and its -wal and -shm files; PostgreSQL: its schema)."""
    if isinstance(root, str):
        postgres.remove(root, version)
        return
    base = version_path(root, version)
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{base}{suffix}").unlink()
