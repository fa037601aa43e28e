"""The version of a stage: a hash of the code it runs.

A stage's module and every `tpulens` module it imports (at the top or inside functions,
followed transitively) are parsed with `ast` and hashed without their docstrings, comments and
formatting, so editing what a stage computes re-runs its steps and rewording a comment does
not. Nothing is imported to find the code: planning stays free of TensorFlow.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
from functools import cache
from pathlib import Path

PACKAGE = "tpulens"


@cache
def code_version(module: str) -> str:
    """Hash of `module`'s code and of the tpulens code it imports."""
    digest = hashlib.sha256()
    for name in sorted(_closure(module)):
        digest.update(name.encode())
        digest.update(_code(name).encode())
    return digest.hexdigest()[:16]


def _closure(module: str) -> set[str]:
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_imports(name))
    return seen


@cache
def _file(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    return Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None


def _tree(module: str) -> ast.Module:
    path = _file(module)
    return ast.parse(path.read_text(encoding="utf-8")) if path else ast.Module([], [])


def _code(module: str) -> str:
    tree = _tree(module)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def _imports(module: str) -> list[str]:
    """The tpulens modules `module` imports, with the packages that contain them."""
    package = module if _is_package(module) else module.rpartition(".")[0]
    found = []
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) \
                if node.level else node.module
            found.append(base)
            if _is_package(base):
                found += [f"{base}.{alias.name}" for alias in node.names
                          if _file(f"{base}.{alias.name}")]
    out = []
    for name in found:
        if name.split(".")[0] != PACKAGE:
            continue
        parts = name.split(".")
        out += [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return out


def _is_package(module: str) -> bool:
    path = _file(module)
    return path is not None and path.name == "__init__.py"
