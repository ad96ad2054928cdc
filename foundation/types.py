"""Type names shared by every layer, defined once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Json = dict[str, Any]  # a JSON object as an API or an Avro record has it
Emit = Callable[[str, Json], Awaitable[None]]  # (record name, record) → published, acknowledged by the broker
