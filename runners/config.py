"""Load and validate `benchmarks.toml`.

The schema is data (SCHEMAS below): every table lists its keys, their types and whether they are
required, so unknown keys and wrong types are reported with the file, a best-effort line and the
key path, and nothing runs on an invalid file.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from tpulens.errors import InputError
from tpulens.history import settings as history_settings

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Key:
    """One allowed key: its type(s), whether it is required, and allowed values."""

    types: tuple
    required: bool = False
    choices: tuple = ()
    schema: str | None = None  # name of the schema for tables / items of lists of tables


def key(types, required=False, choices=(), schema=None) -> Key:
    return Key(types if isinstance(types, tuple) else (types,), required, tuple(choices), schema)


NUM = (int, float)
MAX_REPORTED = 10
ANY = "any"  # marker: a table whose keys are passed on verbatim (detection params)

SCHEMAS: dict[str, dict[str, Key]] = {
    "root": {
        "schema_version": key(int, required=True, choices=(1,)),
        "profiles": key(dict, required=True, schema="profiles"),
        "datasets": key(dict, schema="datasets"),
        "models": key(dict, schema="models"),
        "experiments": key(dict, required=True, schema="experiments"),
        "history": key(dict, schema=ANY),  # checked by tpulens.history.settings
        "diff": key(dict, schema=ANY),
    },
    "profile": {
        "description": key(str),
        "experiments": key(list),
        "train_samples": key(int, required=True),
        "test_samples": key(int, required=True),
        "eval_train_samples": key(int, required=True),
        "calibration_samples": key(int, required=True),
        "epochs": key(int, required=True),
        "finetune_epochs": key(int, required=True),
        "batch_size": key(int),
        "latency_warmup": key(int, required=True),
        "latency_runs": key(int, required=True),
    },
    "dataset": {
        "kind": key(str, required=True, choices=("fashion_mnist", "idx", "image_folder", "keras")),
        "path": key(str),
        "name": key(str),
        "image_size": key(list),
        "grayscale": key(bool),
        "test_fraction": key(float),
        "seed": key(int),
    },
    "model": {
        "builder": key(str, required=True,
                       choices=("small_cnn", "mobilenet", "efficientnet", "keras_application")),
        "input_size": key(int, required=True),
        "filters": key(list),
        "dense": key(int),
        "alpha": key(NUM),
        "blocks": key(list),
        "width_coefficient": key(NUM),
        "depth_coefficient": key(NUM),
        "lite": key(bool),
        "dropout": key(NUM),
        "application": key(str),
    },
    "experiment": {
        "kind": key(str, required=True, choices=("classification", "zoo", "detection")),
        "description": key(str),
        "dataset": key(str),
        "defaults": key(dict, schema="variant"),
        "variants": key(list, required=True, schema="variant"),
    },
    "variant": {
        "name": key(str),
        "description": key(str),
        "profiles": key(list),
        "train": key(dict, schema="train"),
        "optimize": key(list, schema="optimize"),
        "compress": key(dict, schema="compress"),
        "compile": key(dict, schema="compile"),
        "evaluate": key(dict, schema="evaluate"),
        # zoo
        "source": key(dict, schema="source"),
        "member": key(list),
        "compiled_member": key(list),
        # detection: passed verbatim to runners.detection.run_variant
        "params": key(dict, schema=ANY),
    },
    "train": {
        "model": key(str),
        "epochs_scale": key(NUM),
        "learning_rate": key(NUM),
        "seed": key(int),
        "teacher": key(str),
        "alpha": key(NUM),
        "temperature": key(NUM),
        "scale": key(dict, schema="scale"),
    },
    "scale": {
        "phi": key(int, required=True),
        "dims": key(list, required=True),
        "alpha": key(NUM),
        "beta": key(NUM),
        "gamma": key(NUM),
    },
    "optimize": {
        "method": key(str, required=True, choices=("prune", "cluster")),
        "target_sparsity": key(NUM),
        "clusters": key(int),
        "preserve_sparsity": key(bool),
        "epochs_scale": key(NUM),
    },
    "compress": {
        "method": key(str, required=True,
                      choices=("float32", "dynamic_range", "float16", "int8", "qat")),
        "io": key(str, choices=("float", "uint8", "int8")),
        "preserve": key(list),
        "epochs_scale": key(NUM),
    },
    "compile": {
        "enabled": key(bool),
        "compiler_version": key(str),
    },
    "evaluate": {
        "latency": key(bool),
        "accuracy": key(bool),
        "objective_baseline": key(str),
    },
    "source": {
        "registry": key(str, required=True, choices=("pypi", "npm")),
        "package": key(str, required=True),
        "version": key(str, required=True),
    },
}

TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true/false",
              list: "an array", dict: "a table"}


@dataclass(frozen=True)
class Suite:
    """A validated benchmarks.toml: plain dicts, plus where it came from."""

    path: Path
    data: dict

    @property
    def profiles(self) -> dict:
        return self.data["profiles"]

    @property
    def experiments(self) -> dict:
        return self.data["experiments"]

    def profile(self, name: str) -> dict:
        if name not in self.profiles:
            raise InputError(f"{self.path}: unknown profile {name!r} "
                             f"(defined: {', '.join(self.profiles)})")
        return self.profiles[name]


def load(path: str | Path) -> Suite:
    """Parse and validate a benchmarks.toml; raise InputError naming file, line and key path."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise InputError(f"{path}: cannot read: {err.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{path}: TOML syntax error: {err}") from None
    errors = validate(data)
    if errors:
        lines = []
        for key_path, message in errors[:MAX_REPORTED]:
            line = locate(text, key_path)
            lines.append(f"{path}:{line}: {key_path}: {message}" if line
                         else f"{path}: {key_path}: {message}")
        if len(errors) > MAX_REPORTED:
            lines.append(f"(and {len(errors) - MAX_REPORTED} more problem(s))")
        raise InputError("\n".join(lines))
    return Suite(path, data)


def validate(data: dict) -> list[tuple[str, str]]:
    """Every problem as (key path, message); empty when the suite is valid."""
    errors: list[tuple[str, str]] = []
    _check_table(data, "root", "", errors)
    if errors:
        return errors
    _check_references(data, errors)
    errors.extend(history_settings.problems(data))
    return errors


def _check_table(table: dict, schema_name: str, prefix: str, errors: list,
                 partial: bool = False) -> None:
    """Types, choices and unknown keys; required keys too unless `partial` (an experiment's
    defaults and its variants are checked for those once merged)."""
    if schema_name in ("profiles", "datasets", "models", "experiments"):
        item_schema = schema_name[:-1]
        for name, value in table.items():
            path = _join(prefix, name)
            if not NAME_RE.match(name):
                errors.append((path, "names may use letters, digits, '_', '-' and '.'"))
            if not isinstance(value, dict):
                errors.append((path, f"expected a table, got {_type_name(value)}"))
                continue
            _check_table(value, item_schema, path, errors, partial)
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
    ok = any(isinstance(value, t) and not (t in (int, float) and isinstance(value, bool))
             for t in spec.types)
    if not ok:
        expected = " or ".join(TYPE_NAMES[t] for t in spec.types)
        errors.append((path, f"expected {expected}, got {_type_name(value)} {value!r}"))
        return
    if spec.choices and value not in spec.choices:
        choices = ", ".join(repr(c) for c in spec.choices)
        errors.append((path, f"expected one of {choices}, got {value!r}"))
        return
    if spec.schema == ANY or spec.schema is None:
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


def _check_references(data: dict, errors: list) -> None:
    """Cross-references: profile experiments, datasets, models, teachers, baselines."""
    experiments = data["experiments"]
    datasets = data.get("datasets", {})
    models = data.get("models", {})
    profiles = data["profiles"]
    for pname, profile in profiles.items():
        for i, exp in enumerate(profile.get("experiments", [])):
            if exp not in experiments:
                errors.append((f"profiles.{pname}.experiments[{i}]",
                               f"unknown experiment {exp!r}"))
    for ename, exp in experiments.items():
        prefix = f"experiments.{ename}"
        kind = exp["kind"]
        if kind == "classification":
            if exp.get("dataset") not in datasets:
                errors.append((f"{prefix}.dataset",
                               f"expected one of the [datasets] names, got {exp.get('dataset')!r}"))
        names = [v.get("name") for v in exp["variants"]]
        for i, variant in enumerate(exp["variants"]):
            vpath = f"{prefix}.variants[{i}]"
            name = variant.get("name")
            if not isinstance(name, str) or not NAME_RE.match(name):
                errors.append((f"{vpath}.name", "every variant needs a name made of letters, "
                                                "digits, '_', '-', '.'"))
                continue
            if names.count(name) > 1:
                errors.append((f"{vpath}.name", f"duplicate variant name {name!r}"))
            for p in variant.get("profiles", []):
                if p not in profiles:
                    errors.append((f"{vpath}.profiles", f"unknown profile {p!r}"))
            merged = merge(exp.get("defaults", {}), variant)
            _check_required(merged, "variant", vpath, errors)
            _check_variant(kind, merged, names, models, vpath, errors)


def _check_variant(kind, variant, names, models, vpath, errors) -> None:
    allowed = {"classification": {"name", "description", "profiles", "train", "optimize",
                                  "compress", "compile", "evaluate"},
               "zoo": {"name", "description", "profiles", "source", "member",
                       "compiled_member", "compile", "evaluate"},
               "detection": {"name", "description", "profiles", "params", "compile"}}[kind]
    for extra in sorted(set(variant) - allowed):
        errors.append((f"{vpath}.{extra}", f"not allowed in a {kind!r} experiment "
                                           f"(allowed: {', '.join(sorted(allowed))})"))
    if kind == "zoo":
        for needed in ("source", "member"):
            if needed not in variant:
                errors.append((f"{vpath}.{needed}", "required key is missing"))
        return
    if kind != "classification":
        return
    train = variant.get("train", {})
    if train.get("model") not in models:
        errors.append((f"{vpath}.train.model",
                       f"expected one of the [models] names, got {train.get('model')!r}"))
    teacher = train.get("teacher")
    if teacher is not None and (teacher not in names or teacher == variant["name"]):
        errors.append((f"{vpath}.train.teacher", f"expected another variant's name, "
                                                 f"got {teacher!r}"))
    scale = train.get("scale")
    if scale:
        bad = set(scale["dims"]) - {"depth", "width", "resolution"}
        if bad or not scale["dims"]:
            errors.append((f"{vpath}.train.scale.dims",
                           "expected a non-empty subset of 'depth', 'width', 'resolution'"))
    if "compress" not in variant:
        errors.append((f"{vpath}.compress", "required key is missing"))
    else:
        compress = variant["compress"]
        bad = set(compress.get("preserve", [])) - {"sparsity", "clusters"}
        if bad:
            errors.append((f"{vpath}.compress.preserve",
                           "expected a subset of 'sparsity', 'clusters'"))
        if compress.get("preserve") and compress["method"] != "qat":
            errors.append((f"{vpath}.compress.preserve", "only for method = 'qat'"))
    for j, step in enumerate(variant.get("optimize", [])):
        if step["method"] == "prune" and "target_sparsity" not in step:
            errors.append((f"{vpath}.optimize[{j}].target_sparsity", "required for 'prune'"))
        if step["method"] == "cluster" and "clusters" not in step:
            errors.append((f"{vpath}.optimize[{j}].clusters", "required for 'cluster'"))
    baseline = variant.get("evaluate", {}).get("objective_baseline")
    if baseline is not None and baseline not in names:
        errors.append((f"{vpath}.evaluate.objective_baseline",
                       f"expected a variant name, got {baseline!r}"))


def merge(base: dict, override: dict) -> dict:
    """Deep-merge two tables: override wins; nested tables merge key by key."""
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def locate(text: str, key_path: str) -> int | None:
    """Best-effort 1-based line of a key path: the table header, then the key inside it."""
    parts = re.findall(r"([^.\[\]]+)(?:\[(\d+)\])?", key_path)
    lines = text.splitlines()
    start, found = 0, None
    header = []
    for name, index in parts:
        header.append(name)
        dotted = ".".join(header)
        if index:
            hits = [i for i, line in enumerate(lines)
                    if re.match(rf"\s*\[\[\s*{re.escape(dotted)}\s*\]\]", line)]
            if len(hits) > int(index):
                start = found = hits[int(index)]
                continue
        table_hit = next((i for i, line in enumerate(lines)
                          if re.match(rf"\s*\[\s*{re.escape(dotted)}\s*\]", line)), None)
        if table_hit is not None:
            start = found = table_hit
            continue
        key_hit = next((i for i in range(start, len(lines))
                        if re.match(rf"\s*\"?{re.escape(name)}\"?\s*=", lines[i])), None)
        if key_hit is not None:
            start = found = key_hit
    return None if found is None else found + 1


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _type_name(value) -> str:
    return TYPE_NAMES.get(type(value), type(value).__name__)
