"""Where the project keeps its local state: jars, broker data, read models, outbox (git-ignored)."""

from __future__ import annotations

import os
from pathlib import Path


def project_home() -> Path:
    """Where jars, broker data and logs live (git-ignored). `SEVPRO_HOME` overrides."""
    return Path(os.environ.get("SEVPRO_HOME", Path.cwd() / ".sevpro")).resolve()
