"""The version of a stage: a hash of the code it runs.

A stage's module and every `tpulens` module it imports (at the top or inside functions,
followed transitively, with the packages that hold them) are hashed byte for byte, so editing
what a stage runs re-runs its steps, and nothing else does. The imports are read from the
source text: nothing is imported to find them, and planning stays free of TensorFlow.
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


@cache
def code_version(module: str) -> str:
    """Hash of `module`'s source and of the tpulens sources it imports."""
    digest = hashlib.sha256()
    for name in sorted(_closure(module)):
        path = _file(name)
        digest.update(name.encode())
        digest.update(path.read_bytes() if path else b"")
    return digest.hexdigest()[:16]


def _closure(module: str) -> set[str]:
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_imports(name))
    return seen


@cache
def _file(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    return Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None


def _imports(module: str) -> list[str]:
    """The tpulens modules `module` imports, and the packages that contain them."""
    path = _file(module)
    found = []
    for base, names, plain in IMPORT.findall(path.read_text(encoding="utf-8") if path else ""):
        if plain:
            found += [name.strip() for name in plain.split(",")]
            continue
        found.append(base)
        if base.split(".")[0] == PACKAGE and _is_package(base):
            for name in re.findall(r"\w+(?:\s+as\s+\w+)?", names.strip("()")):
                submodule = f"{base}.{name.split()[0]}"
                if _file(submodule):
                    found.append(submodule)
    out = []
    for name in found:
        parts = name.split(".")
        if parts[0] == PACKAGE:
            out += [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return out


def _is_package(module: str) -> bool:
    path = _file(module)
    return path is not None and path.name == "__init__.py"
