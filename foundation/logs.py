"""structlog set-up: key=value lines, with anything that looks like a secret redacted before it is written."""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any

import structlog

from foundation.privacy import mask_personal_codes

_SECRET_KEYS = re.compile(r"(secret|token|api_?key|password|authorization)", re.IGNORECASE)


def redact_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Logs never carry secrets: values under secret-like keys are replaced."""
    for key in list(event_dict):
        if _SECRET_KEYS.search(key):
            event_dict[key] = "***"
    return event_dict


# `Bearer <token>`, and `<secret-like name>=<value>` or `"<name>": "<value>"` inside free text.
_SECRET_VALUES = re.compile(r"(?i)(bearer\s+|(?:secret|token|api_?key|password|authorization)[\w-]*"
                            r"[\"']?\s*[:=]\s*[\"']?(?:bearer\s+)?)[^\s\"'&,;]+")


def redact_text(text: str) -> str:
    """Free text (an exception's message) without the values of anything that looks like a secret, and
    without personal identity codes."""
    return mask_personal_codes(_SECRET_VALUES.sub(lambda match: f"{match.group(1)}***", text))


def mask_personal_data(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Log lines never carry a private customer's personal identity code in clear."""
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = mask_personal_codes(value)
    return event_dict


def configure(level: str = "info") -> None:
    logging.basicConfig(level=level.upper(), format="%(message)s")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_secrets,
            mask_personal_data,
            structlog.processors.KeyValueRenderer(key_order=["timestamp", "level", "event"]),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
