"""The public API contract of Severa and Procountor, and the checks of real traffic against it.

``contract/severa.yaml`` and ``contract/procountor.yaml`` state, from the public descriptions only (never from
our clients or sandboxes), every operation the integration calls: method, path, parameters, request and
response fields with types and enums, and the source of each. The tests put a check in front of both
sandboxes (``contract.watch``) so that every request a client sends and every answer a sandbox gives is
compared with it; ``sevpro contract coverage`` prints what was checked.

Nothing of ours imports this package but the command line and the tests; it imports nothing of ours.
"""

from __future__ import annotations

from .model import SYSTEMS, Contract, Operation, load

__all__ = ["SYSTEMS", "Contract", "Operation", "load"]
