"""The operations the clients call, read from their source (``connectors/<system>/client.py``) with ``ast``.

Only the clients speak HTTP, and they do it through a few helpers (``_request("GET", "/company")``,
``iter_pages("/v1/invoices")``, ``_create(...)``); every call of a helper with a path template is one
operation. The helpers are found from the lowest ones (``BASE_HELPERS``) up. A path may be a literal, a
module constant, an f-string or ``"/prefix/" + kind`` where ``kind`` runs over a parameter's default tuple;
the action helpers (``_invoice_action(id, "approve")``) name the last segment. Nothing here imports the
clients: the contract stays below everything else.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: The lowest helpers through which each client sends: name -> (the method, or the index of the argument that
#: gives it; the index of the path template argument). Every function that passes its own parameter on as the
#: path of a helper is a helper too (``_get``, ``iter_pages``, ``_numbered_pages``...), found by the reader.
BASE_HELPERS: dict[str, dict[str, tuple[str | int, int]]] = {
    "severa": {"_send": (0, 1)},
    "procountor": {"_request": (0, 1), "_send": (0, 1)},
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


def _params(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    return [a.arg for a in [*func.args.posonlyargs, *func.args.args] if a.arg != "self"]


def _calls(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.Call]:
    return [n for n in ast.walk(func) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]


def _method_of(node: ast.Call, method: str | int, params: list[str]) -> str | int | None:
    """The call's HTTP method: a literal, or (for a helper being found) the index of its own parameter."""
    if isinstance(method, str):
        return method
    given = node.args[method] if len(node.args) > method else None
    if isinstance(given, ast.Constant) and isinstance(given.value, str) and given.value in METHODS:
        return given.value
    if isinstance(given, ast.Name) and given.id in params:
        return params.index(given.id)
    return None


def _helpers(system: str, functions: list[ast.FunctionDef | ast.AsyncFunctionDef]) -> dict[str, tuple[str | int, int]]:
    helpers = dict(BASE_HELPERS[system])
    found = True
    while found:
        found = False
        for func in functions:
            if func.name in helpers:
                continue
            params = _params(func)
            for node in _calls(func):
                spec = helpers.get(node.func.attr)  # type: ignore[attr-defined]
                path = node.args[spec[1]] if spec and len(node.args) > spec[1] else None
                if spec and isinstance(path, ast.Name) and path.id in params:
                    method = _method_of(node, spec[0], params)
                    if method is not None:
                        helpers[func.name] = (method, params.index(path.id))
                        found = True
                        break
    return helpers


def _unescape(path: str) -> str:
    return path.replace("{{", "{").replace("}}", "}")


def used_operations(system: str, root: Path = ROOT) -> list[Usage]:
    """Every (method, path template) the system's client calls, with the client function that calls it."""
    source = (root / CLIENTS[system]).read_text()
    tree = ast.parse(source)
    constants = _constants(tree)
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    helpers = _helpers(system, functions)
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
        params = _params(func)
        for node in _calls(func):
            name = node.func.attr  # type: ignore[attr-defined]
            if name not in helpers or func.name in helpers:
                continue
            method = _method_of(node, helpers[name][0], [])
            index = helpers[name][1]
            if not isinstance(method, str) or len(node.args) <= index:
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
        for call in _calls(func):
            if call.func.attr in wrappers:  # type: ignore[attr-defined]
                method, template, hole, position = wrappers[call.func.attr]  # type: ignore[attr-defined]
                argument = call.args[position] if len(call.args) > position else None
                if not (isinstance(argument, ast.Constant) and isinstance(argument.value, str)):
                    unreadable.append(f"{func.name}: {call.func.attr}(...) without a literal {hole}")  # type: ignore[attr-defined]
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
