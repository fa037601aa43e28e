"""The version of a stage: a hash of the code that computes its output.

A stage's module and the `tpulens` modules it takes code from (at the top or inside functions,
followed transitively) are hashed by content, so editing what computes a step's output re-runs
that step and what depends on it, and nothing else does: an analyzer change re-runs the compile
step (and the evaluate step that reads it), never training. Left out, because they cannot change
an output: a package's `__init__` passed on the way to one of its modules, the errors, and the
step container and cache plumbing (NOT_OUTPUT). Moving or renaming a file changes no key.

The imports are read from the source text: nothing is imported to find them, and planning stays
free of TensorFlow.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from functools import cache
from pathlib import Path

PACKAGE = "tpulens"
IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+([\w.]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]*)"
                    r"|import[ \t]+([\w.]+(?:[ \t]*,[ \t]*[\w.]+)*))", re.MULTILINE)
# Modules a stage imports that compute none of its output: error types, the StepResult
# container and stage lookup, the cache's keys, locks and atomic writes.
NOT_OUTPUT = frozenset({"tpulens", "tpulens.errors", "tpulens.runners.stages",
                        "tpulens.runners.cache"})


@cache
def code_version(module: str) -> str:
    """Hash of the contents of `module` and of the tpulens modules that compute with it."""
    contents = sorted(hashlib.sha256(_file(name).read_bytes()).hexdigest()
                      for name in _closure(module) if _file(name))
    return hashlib.sha256("\n".join(contents).encode()).hexdigest()[:16]


def _closure(module: str) -> set[str]:
    """`module` and the modules it takes code from, transitively, less NOT_OUTPUT."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name not in seen and name not in NOT_OUTPUT:
            seen.add(name)
            todo.extend(_imports(name))
    return seen


@cache
def _file(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None


def _imports(module: str) -> list[str]:
    """The tpulens modules `module` takes code from: `import a.b` names a.b; `from P import x`
    names the submodule P.x when there is one, else P itself (x is defined in P)."""
    path = _file(module)
    found = []
    for base, names, plain in IMPORT.findall(path.read_text(encoding="utf-8") if path else ""):
        if plain:
            found += [name.strip() for name in plain.split(",")]
        elif _is_package(base):
            for name in re.findall(r"\w+(?:\s+as\s+\w+)?", names.strip("()")):
                submodule = f"{base}.{name.split()[0]}"
                found.append(submodule if _file(submodule) else base)
        else:
            found.append(base)
    return [name for name in found if name.split(".")[0] == PACKAGE]


def _is_package(module: str) -> bool:
    if module.split(".")[0] != PACKAGE:
        return False
    path = _file(module)
    return path is not None and path.name == "__init__.py"
