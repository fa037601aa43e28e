"""Load and validate `benchmarks.toml`.

The schema is data (runners/schema.py): every table lists its keys, their types, bounds and
whether they are required. Every problem of a file is reported in one pass, each as
`file:line: key.path: message` at the line where the value is written (a value set in an
experiment's `defaults` is reported there once, not once per variant), unknown names with the
valid ones. Nothing runs on an invalid file.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from tpulens.errors import InputError
from tpulens.history import settings as history_settings
from tpulens.runners import toml_lines
from tpulens.runners.detection import params as detection
from tpulens.runners.schema import KIND_KEYS, NUM, SCHEMAS, TABLES_OF, TYPE_NAMES, Key

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MAX_REPORTED = 100


@dataclass(frozen=True)
class Suite:
    """A validated benchmarks.toml: plain dicts, plus where it came from."""

    path: Path
    data: dict
    text: str = ""

    @property
    def profiles(self) -> dict:
        return self.data["profiles"]

    @property
    def experiments(self) -> dict:
        return self.data["experiments"]

    def profile(self, name: str) -> dict:
        if name not in self.profiles:
            line = toml_lines.line_of(toml_lines.key_lines(self.text), "profiles")
            raise InputError(f"{self.path}:{line}: profiles: unknown profile {name!r} "
                             f"(defined: {', '.join(self.profiles)})")
        return self.profiles[name]


def load(path: str | Path, deep: bool = False) -> Suite:
    """Parse and validate a benchmarks.toml; raise InputError listing every problem as
    `file:line: key: message`. `deep` also opens the user's own detection datasets and
    detectors (what `run --check` does)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot read: {err.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not UTF-8 text (byte {raw[err.start]:#04x}); "
                         "TOML files are UTF-8") from None
    if not toml_lines.has_content(text):
        raise InputError(f"{path}:1: schema_version: the file is empty; a suite needs "
                         "schema_version, [profiles.*] and [experiments.*]")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(toml_lines.syntax_error(path, text, err)) from None
    errors = validate(data, path.resolve().parent, deep)
    if errors:
        lines_of = toml_lines.key_lines(text)
        found = [(toml_lines.line_of(lines_of, key_path), key_path, message)
                 for key_path, message in dict.fromkeys(errors)]
        found.sort(key=lambda e: e[0])
        out = [f"{path}:{line}: {key_path}: {message}"
               for line, key_path, message in found[:MAX_REPORTED]]
        if len(found) > MAX_REPORTED:
            out.append(f"{path}: and {len(found) - MAX_REPORTED} more problem(s)")
        raise InputError("\n".join(out))
    return Suite(path, data, text)


def validate(data: dict, base: Path = Path("."), deep: bool = False) -> list[tuple[str, str]]:
    """Every problem as (key path, message); empty when the suite is valid."""
    errors: list[tuple[str, str]] = []
    _check_table(data, "root", "", errors)
    _check_references(data, base, deep, errors)
    errors.extend(history_settings.problems(data))
    return errors


def _check_table(table: dict, schema_name: str, prefix: str, errors: list,
                 partial: bool = False) -> None:
    """Types, bounds, choices and unknown keys; required keys too unless `partial` (an
    experiment's defaults and its variants are checked for those once merged)."""
    if schema_name in TABLES_OF:
        for name, value in table.items():
            path = _join(prefix, name)
            if not NAME_RE.match(name):
                errors.append((path, "names may use letters, digits, '_', '-' and '.'"))
            if not isinstance(value, dict):
                errors.append((path, f"expected a table, got {_type_name(value)}"))
                continue
            _check_table(value, TABLES_OF[schema_name], path, errors, partial)
        return
    schema = SCHEMAS[schema_name]
    for name, value in table.items():
        path = _join(prefix, name)
        spec = schema.get(name)
        if spec is None:
            errors.append((path, f"unknown key (allowed: {', '.join(sorted(schema))})"))
            continue
        _check_value(value, spec, path, errors, partial or schema_name == "experiment"
                     and name in ("defaults", "variants"))
    if not partial:
        _check_required(table, schema_name, prefix, errors)


def _check_required(table: dict, schema_name: str, prefix: str, errors: list) -> None:
    for name, spec in SCHEMAS[schema_name].items():
        if spec.required and name not in table:
            errors.append((_join(prefix, name), "required key is missing"))
        value = table.get(name)
        if schema_name == "experiment" and name in ("defaults", "variants"):
            continue  # checked once merged, variant by variant
        if spec.schema in SCHEMAS and isinstance(value, dict):
            _check_required(value, spec.schema, _join(prefix, name), errors)
        elif spec.schema in SCHEMAS and isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    _check_required(item, spec.schema, f"{_join(prefix, name)}[{i}]", errors)


def _check_value(value, spec: Key, path: str, errors: list, partial: bool = False) -> None:
    if not _is(value, spec.types):
        expected = " or ".join(TYPE_NAMES[t] for t in spec.types)
        errors.append((path, f"expected {expected}, got {_type_name(value)} {value!r}"))
        return
    if spec.choices and value not in spec.choices:
        choices = ", ".join(repr(c) for c in spec.choices)
        errors.append((path, f"expected one of {choices}, got {value!r}"))
        return
    if spec.bounds and not _within(value, spec.bounds):
        low, high = spec.bounds
        what = "an integer" if spec.types == (int,) else "a finite number"
        errors.append((path, f"expected {what} from {low:g} to {high:g}, got {value!r}"))
        return
    if spec.items is not None:
        items = spec.items if isinstance(spec.items, tuple) else (spec.items,)
        for i, item in enumerate(value):
            if not _is(item, items):
                expected = " or ".join(TYPE_NAMES[t] for t in items)
                errors.append((f"{path}[{i}]", f"expected {expected}, got {_type_name(item)} "
                                               f"{item!r}"))
            elif isinstance(item, float) and not math.isfinite(item):
                errors.append((f"{path}[{i}]", f"expected a finite number, got {item!r}"))
    if spec.schema is None:
        return
    if isinstance(value, dict):
        _check_table(value, spec.schema, path, errors, partial)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            item_path = f"{path}[{i}]"
            if not isinstance(item, dict):
                errors.append((item_path, f"expected a table, got {_type_name(item)}"))
                continue
            _check_table(item, spec.schema, item_path, errors, partial)


def _check_references(data: dict, base: Path, deep: bool, errors: list) -> None:
    """Cross-references (profile experiments, datasets, models, teachers, baselines) and the
    constraints between keys, each reported where its value is written."""
    experiments = _table(data, "experiments")
    datasets, models = _table(data, "datasets"), _table(data, "models")
    profiles = _table(data, "profiles")
    for pname, profile in profiles.items():
        for i, exp in enumerate(_list(profile, "experiments")):
            if isinstance(exp, str) and exp not in experiments:
                errors.append((f"profiles.{pname}.experiments[{i}]",
                               _unknown("experiment", exp, experiments)))
        for name, instead in _table(profile, "models").items():
            where = f"profiles.{pname}.models.{name}"
            if name not in models:
                errors.append((where, _unknown("model", name, models)))
            elif not isinstance(instead, str) or instead not in models:
                errors.append((where, _unknown("model", instead, models)))
    for dname, table in datasets.items():
        _check_dataset_files(table, f"datasets.{dname}", base, deep, errors)
    for ename, exp in experiments.items():
        if not isinstance(exp, dict) or exp.get("kind") not in KIND_KEYS:
            continue
        prefix = f"experiments.{ename}"
        kind = exp["kind"]
        if kind == "classification" and exp.get("dataset") not in datasets:
            errors.append((f"{prefix}.dataset", "required key is missing" if "dataset" not in exp
                           else _unknown("dataset", exp["dataset"], datasets)))
        defaults = exp.get("defaults") if isinstance(exp.get("defaults"), dict) else {}
        variants = [v for v in _list(exp, "variants") if isinstance(v, dict)]
        names = [v.get("name") for v in variants]
        sources = [(f"{prefix}.defaults", defaults)] + [
            (f"{prefix}.variants[{i}]", v) for i, v in enumerate(_list(exp, "variants"))
            if isinstance(v, dict)]
        for where, table in sources:
            _check_source(kind, table, where, names, models, profiles, base, deep, errors)
        for i, variant in enumerate(_list(exp, "variants")):
            if not isinstance(variant, dict):
                continue
            vpath = f"{prefix}.variants[{i}]"
            name = variant.get("name")
            if not isinstance(name, str) or not NAME_RE.match(name):
                errors.append((f"{vpath}.name", "every variant needs a name made of letters, "
                                                "digits, '_', '-', '.'"))
            elif names.count(name) > 1:
                errors.append((f"{vpath}.name", f"duplicate variant name {name!r}"))
            merged = merge(defaults, variant)
            missing: list = []
            _check_required(merged, "variant", vpath, missing)
            for key_path, message in missing:
                errors.append((_where_written(key_path, vpath, variant, f"{prefix}.defaults",
                                              defaults), message))
            _check_merged(kind, merged, defaults, variant, vpath, f"{prefix}.defaults", errors)
        if kind == "classification":
            _check_teacher_cycles(defaults, variants, prefix, errors)


def _check_dataset_files(table, where: str, base: Path, deep: bool, errors: list) -> None:
    """A classification dataset's files: `path` must exist; without one, Debian's
    Fashion-MNIST must be installed (looked up with `--check`)."""
    if not isinstance(table, dict):
        return
    path = table.get("path")
    if isinstance(path, str):
        found = Path(path).expanduser()
        found = found if found.is_absolute() else base / found
        if not found.exists():
            errors.append((f"{where}.path", f"{found}: no such file or directory"))
    elif table.get("kind") in ("idx", "image_folder"):
        errors.append((f"{where}.path", f"required for kind {table['kind']!r}"))
    elif table.get("kind") == "fashion_mnist" and deep:
        from tpulens.runners.dataset_files import debian_fashion_mnist_dir

        try:
            debian_fashion_mnist_dir()
        except InputError as err:
            errors.append((f"{where}.kind", str(err)))


def _check_source(kind, table, where, names, models, profiles, base, deep, errors) -> None:
    """Checks of the values one table (an experiment's defaults or one variant) writes."""
    for p in _list(table, "profiles"):
        if isinstance(p, str) and p not in profiles:
            errors.append((f"{where}.profiles", _unknown("profile", p, profiles)))
    train = _table(table, "train")
    if isinstance(train.get("model"), str) and train["model"] not in models:
        errors.append((f"{where}.train.model", _unknown("model", train["model"], models)))
    if isinstance(train.get("teacher"), str) and (train["teacher"] not in names
                                                  or train["teacher"] == table.get("name")):
        errors.append((f"{where}.train.teacher",
                       _unknown("teacher (another variant)", train["teacher"],
                                [n for n in names if n != table.get("name")])))
    dims = _list(_table(train, "scale"), "dims")
    if "scale" in train and isinstance(train["scale"], dict) and "dims" in train["scale"] and (
            not dims or set(d for d in dims if isinstance(d, str))
            - {"depth", "width", "resolution"}):
        errors.append((f"{where}.train.scale.dims",
                       "expected a non-empty subset of 'depth', 'width', 'resolution'"))
    preserve = {p for p in _list(_table(table, "compress"), "preserve") if isinstance(p, str)}
    if preserve - {"sparsity", "clusters"}:
        errors.append((f"{where}.compress.preserve", "expected a subset of 'sparsity', "
                                                     "'clusters'"))
    for j, step in enumerate(_list(table, "optimize")):
        if not isinstance(step, dict):
            continue
        if step.get("method") == "prune" and "target_sparsity" not in step:
            errors.append((f"{where}.optimize[{j}].target_sparsity", "required for 'prune'"))
        if step.get("method") == "cluster" and "clusters" not in step:
            errors.append((f"{where}.optimize[{j}].clusters", "required for 'cluster'"))
    baseline = _table(table, "evaluate").get("objective_baseline")
    if isinstance(baseline, str) and baseline not in names:
        errors.append((f"{where}.evaluate.objective_baseline",
                       _unknown("variant", baseline, names)))
    if kind == "detection":
        _check_detection(_table(table, "params"), f"{where}.params", base, deep, errors)


def _check_detection(params: dict, where: str, base: Path, deep: bool, errors: list) -> None:
    """Detection parameters one table writes: sizes, class names and the user's files."""
    size = params.get("image_size")
    if isinstance(size, int) and size % 32:
        errors.append((f"{where}.image_size", f"expected a multiple of 32, got {size}"))
    classes = [c for c in _list(params, "classes") if isinstance(c, str)]
    if "classes" in params and (not classes or len(set(classes)) < len(classes)):
        errors.append((f"{where}.classes", "expected one or more different class names"))
    for name in sorted(set(classes) - set(detection.FASHION_CLASSES)):
        errors.append((f"{where}.classes", _unknown("Fashion-MNIST class", name,
                                                    detection.FASHION_CLASSES)))
    float_range = _list(params, "float_range")
    if "float_range" in params and (len(float_range) != 2 or not all(
            _is(v, NUM) for v in float_range) or float_range[0] >= float_range[1]):
        errors.append((f"{where}.float_range", "expected [low, high] with low < high"))
    for name, wanted in (("tflite", "file"), ("dataset", "file or directory"),
                         ("images_dir", "directory")):
        value = params.get(name)
        if not isinstance(value, str):
            continue
        path = Path(value).expanduser()
        path = path if path.is_absolute() else base / path
        ok = {"file": path.is_file(), "directory": path.is_dir()}.get(wanted, path.exists())
        if not ok:
            errors.append((f"{where}.{name}", f"{path}: no such {wanted}"))
        elif deep:
            _check_user_file(name, path, params, base, where, errors)


def _check_user_file(name, path, params, base, where, errors) -> None:
    """Open a user's detector or dataset the way the run will (run --check only)."""
    try:
        if name == "tflite":
            from tpulens.runners.detection.tflite_detector import check_detector

            check_detector(path)
        elif name == "dataset":
            from tpulens.runners.detection.datasets import load_any

            images_dir = params.get("images_dir")
            load_any(path, base / images_dir if isinstance(images_dir, str) else None)
    except InputError as err:
        errors.append((f"{where}.{name}", str(err)))


def _check_merged(kind, merged, defaults, variant, vpath, dpath, errors) -> None:
    """Constraints that hold between keys of the merged variant; reported at the table that
    writes the key in question (the variant, else the experiment's defaults)."""

    def at(*keys):
        node = variant
        for k in keys:
            node = node.get(k) if isinstance(node, dict) else None
        return f"{vpath if node is not None else dpath}.{'.'.join(keys)}"

    for extra in sorted(set(merged) - KIND_KEYS[kind]):
        errors.append((at(extra), f"not allowed in a {kind!r} experiment "
                                  f"(allowed: {', '.join(sorted(KIND_KEYS[kind]))})"))
    if kind == "zoo":
        for needed in ("source", "member"):
            if needed not in merged:
                errors.append((f"{vpath}.{needed}", "required key is missing"))
    elif kind == "classification":
        train = _table(merged, "train")
        if "model" not in train:
            errors.append((f"{vpath}.train.model", "required key is missing"))
        compress = _table(merged, "compress")
        if "compress" not in merged:
            errors.append((f"{vpath}.compress", "required key is missing"))
        elif compress.get("preserve") and compress.get("method") != "qat":
            errors.append((at("compress", "preserve"), "only for method = 'qat'"))
    elif kind == "detection":
        params = _table(merged, "params")
        if params.get("tflite") and params.get("export") == "keras":
            errors.append((at("params", "export"), "a bring-your-own tflite has no Keras "
                                                   "model to evaluate"))
        if params.get("tflite") and not params.get("dataset"):
            errors.append((at("params", "tflite"), "needs a 'dataset' to evaluate on"))


def _where_written(key_path: str, vpath: str, variant: dict, dpath: str, defaults: dict) -> str:
    """A key missing from a merged variant belongs to the table that holds its parent: the
    variant's own, else the experiment's defaults (one problem there, not one per variant)."""
    parent = re.findall(r"[^.\[\]]+|\[\d+\]", key_path[len(vpath) + 1:])[:-1]
    if not parent or _lookup(variant, parent) is not None or _lookup(defaults, parent) is None:
        return key_path
    return dpath + key_path[len(vpath):]


def _lookup(table, parts: list[str]):
    node = table
    for part in parts:
        if part.startswith("[") and isinstance(node, list) and int(part[1:-1]) < len(node):
            node = node[int(part[1:-1])]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def _check_teacher_cycles(defaults: dict, variants: list, prefix: str, errors: list) -> None:
    teacher_of = {}
    for i, variant in enumerate(variants):
        teacher = _table(merge(defaults, variant), "train").get("teacher")
        if isinstance(variant.get("name"), str) and isinstance(teacher, str):
            teacher_of[variant["name"]] = (teacher, i)
    reported: set[frozenset] = set()
    for name, (_, i) in teacher_of.items():
        chain, current = [name], name
        while current in teacher_of:
            current = teacher_of[current][0]
            if current == name and frozenset(chain) not in reported:
                reported.add(frozenset(chain))
                errors.append((f"{prefix}.variants[{i}].train.teacher",
                               f"teacher cycle: {' -> '.join(chain + [name])}"))
            if current in chain:
                break
            chain.append(current)


def merge(base: dict, override: dict) -> dict:
    """Deep-merge two tables: override wins; nested tables merge key by key."""
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def _unknown(what: str, name, known) -> str:
    known = sorted(k for k in known if isinstance(k, str))
    return f"unknown {what} {name!r} (defined: {', '.join(known) if known else 'none'})"


def _is(value, types) -> bool:
    return any(isinstance(value, t) and not (t in (int, float) and isinstance(value, bool))
               for t in types)


def _within(value, bounds) -> bool:
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return bounds[0] <= value <= bounds[1]


def _table(table, name) -> dict:
    value = table.get(name) if isinstance(table, dict) else None
    return value if isinstance(value, dict) else {}


def _list(table, name) -> list:
    value = table.get(name) if isinstance(table, dict) else None
    return value if isinstance(value, list) else []


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _type_name(value) -> str:
    return TYPE_NAMES.get(type(value), type(value).__name__)
