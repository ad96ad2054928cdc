"""The operations the clients call, read from their source (``connectors/<system>/client.py``) with ``ast``.

Only the clients speak HTTP, and they do it through a few helpers (``_request("GET", "/company")``,
``iter_pages("/v1/invoices")``, ``_create(...)``); every call of a helper with a path template is one
operation. A path may be a literal, a module constant, an f-string or ``"/prefix/" + kind`` where ``kind``
runs over a parameter's default tuple; the action helpers (``_invoice_action(id, "approve")``) name the
last segment. Nothing here imports the clients: the contract stays below everything else.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: helper name -> (HTTP method or None when the first argument is the method, index of the path argument)
HELPERS: dict[str, dict[str, tuple[str | None, int]]] = {
    "severa": {
        "_json": (None, 1),
        "_send": (None, 1),
        "_get": ("GET", 0),
        "_bytes": ("GET", 0),
        "iter_pages": ("GET", 0),
        "iter_offset": ("GET", 0),
        "_create": ("POST", 0),
        "_patch": ("PATCH", 0),
    },
    "procountor": {
        "_request": (None, 1),
        "_send": (None, 1),
        "_batch_get": ("GET", 0),
        "_iterate": ("GET", 0),
    },
}
CLIENTS = {"severa": "connectors/severa/client.py", "procountor": "connectors/procountor/client.py"}
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True, order=True)
class Usage:
    """One operation a client calls: ``GET /v1/invoices`` and the client function(s) calling it."""

    method: str
    path: str
    where: str

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def _constants(tree: ast.Module) -> dict[str, str]:
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value.value
    return found


def _defaults(func: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, list[str]]:
    """Parameter name -> its default's string values (a constant or a tuple of constants)."""
    args = func.args
    params = [*args.posonlyargs, *args.args]
    pairs = list(zip(params[len(params) - len(args.defaults) :], args.defaults, strict=True))
    pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None]
    out: dict[str, list[str]] = {}
    for arg, default in pairs:
        if isinstance(default, ast.Constant) and isinstance(default.value, str):
            out[arg.arg] = [default.value]
        elif isinstance(default, ast.Tuple) and all(isinstance(e, ast.Constant) for e in default.elts):
            out[arg.arg] = [str(e.value) for e in default.elts if isinstance(e, ast.Constant)]
    return out


def _strings(node: ast.expr, constants: dict[str, str], defaults: dict[str, list[str]]) -> list[str] | None:
    """Every value a path expression can take, or None when it cannot be read statically."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name):
        if node.id in constants:
            return [constants[node.id]]
        return defaults.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left = _strings(node.left, constants, defaults)
        right = _strings(node.right, constants, defaults)
        if left is None or right is None:
            return None
        return [a + b for a in left for b in right]
    if isinstance(node, ast.JoinedStr):
        parts: list[list[str]] = [[""]]
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append([str(value.value)])
            elif isinstance(value, ast.FormattedValue) and isinstance(value.value, ast.Name):
                parts.append(["{" + value.value.id + "}"])  # filled by the caller's argument (see _actions)
            else:
                return None
        out = [""]
        for options in parts:
            out = [a + b for a in out for b in options]
        return out
    return None


def _method_of(node: ast.Call, helper: tuple[str | None, int]) -> str | None:
    method, _ = helper
    if method is not None:
        return method
    first = node.args[0] if node.args else None
    if isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value in METHODS:
        return first.value
    return None


def _unescape(path: str) -> str:
    return path.replace("{{", "{").replace("}}", "}")


def used_operations(system: str, root: Path = ROOT) -> list[Usage]:
    """Every (method, path template) the system's client calls, with the client function that calls it."""
    source = (root / CLIENTS[system]).read_text()
    tree = ast.parse(source)
    constants = _constants(tree)
    helpers = HELPERS[system]
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    # Functions that pass an argument into the path (``_invoice_action(id, action)``): their templates
    # with a placeholder, completed from each call's literal argument.
    wrappers: dict[str, tuple[str, str, str, int]] = {}
    found: set[Usage] = set()
    unreadable: list[str] = []
    for func in functions:
        known = _defaults(func)
        for loop in ast.walk(func):  # ``for kind in kinds``: the loop variable takes the defaults' values
            if isinstance(loop, ast.For) and isinstance(loop.target, ast.Name) and isinstance(loop.iter, ast.Name):
                if loop.iter.id in known:
                    known[loop.target.id] = known[loop.iter.id]
        params = [a.arg for a in func.args.args if a.arg != "self"]
        for node in ast.walk(func):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            name = node.func.attr
            if name not in helpers or func.name in helpers:
                continue
            method = _method_of(node, helpers[name])
            index = helpers[name][1]
            if method is None or len(node.args) <= index:
                continue
            paths = _strings(node.args[index], constants, known)
            if paths is None:
                unreadable.append(f"{func.name}: {ast.unparse(node.args[index])}")
                continue
            for path in paths:
                holes = [p for p in params if "{" + p + "}" in path]
                if holes:
                    wrappers[func.name] = (method, path, holes[0], params.index(holes[0]))
                else:
                    found.add(Usage(method, _unescape(path), func.name))
    for func in functions:
        for node in ast.walk(func):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in wrappers:
                method, template, hole, position = wrappers[node.func.attr]
                argument = node.args[position] if len(node.args) > position else None
                if not (isinstance(argument, ast.Constant) and isinstance(argument.value, str)):
                    unreadable.append(f"{func.name}: {node.func.attr}(...) without a literal {hole}")
                    continue
                found.add(Usage(method, _unescape(template.replace("{" + hole + "}", argument.value)), func.name))
    if unreadable:
        raise ValueError(f"{CLIENTS[system]}: cannot read the path of {unreadable}; keep paths literal")
    return sorted(found)


def used_keys(system: str, root: Path = ROOT) -> dict[str, list[str]]:
    """``"METHOD path"`` -> the client functions that call it."""
    out: dict[str, list[str]] = {}
    for usage in used_operations(system, root):
        out.setdefault(usage.key, []).append(usage.where)
    return out
