"""The two JSON contracts (docs/data-contracts.md) as the site reads them: every field at its
contract type. A field of the wrong type is replaced by its empty value and named in the file's
one problem line, so a hand-edited or foreign file still renders and the reader learns what was
ignored; a schema version this tpulens does not know refuses the whole file."""

from __future__ import annotations

import json
import math

from tpulens.analyzer.vocabulary import Confidence, Placement, RecordStatus, Source, Verdict
from tpulens.metrics import Better

SHOWN_NOTES = 5  # wrong fields named per problem line; the rest are counted

_KINDS = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}


def _kind(value: object) -> str:
    return _KINDS.get(type(value), "a number" if isinstance(value, int | float) else "unknown")


def _short(text: str) -> str:
    """Field names and values come from the file: a problem line quotes at most 60 chars."""
    return text if len(text) <= 60 else text[:59] + "…"


def schema_problem(data: dict, newest: int) -> str | None:
    """None when `schema_version` is absent (hand-written files) or one this tpulens reads."""
    version = data.get("schema_version", 1)
    if type(version) is int and 1 <= version <= newest:
        return None
    known = "1" if newest == 1 else f"1 to {newest}"
    shown = json.dumps(version)[:20]
    return f"schema_version {shown} is not supported (this tpulens reads {known}); file skipped"


class Fields:
    """Reads one file's fields at their types, noting each field it had to ignore."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def wrong(self, where: str, value: object, expected: str) -> None:
        self.notes.append(f"{_short(where)} is {_kind(value)}, expected {expected}")

    def problem(self, label: str) -> str | None:
        """The file's one problem line, or None when every field had its type."""
        if not self.notes:
            return None
        more = len(self.notes) - SHOWN_NOTES
        extra = f" (+{more} more)" if more > 0 else ""
        return f"{label}: ignored {'; '.join(self.notes[:SHOWN_NOTES])}{extra}"

    def text(self, data: dict, key: str, where: str = "") -> str:
        value = data.get(key)
        if value is None or isinstance(value, str):
            return value or ""
        self.wrong(where + key, value, "a string")
        return ""

    def integer(self, data: dict, key: str, default: int | None, where: str = "") -> int | None:
        value = data.get(key)
        if value is None:
            return default
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        self.wrong(where + key, value, "an integer")
        return default

    def obj(self, data: dict, key: str, where: str = "") -> dict:
        value = data.get(key)
        if value is None or isinstance(value, dict):
            return value or {}
        self.wrong(where + key, value, "an object")
        return {}

    def array(self, data: dict, key: str, where: str = "") -> list:
        value = data.get(key)
        if value is None or isinstance(value, list):
            return value or []
        self.wrong(where + key, value, "a list")
        return []

    def choice(self, data: dict, key: str, choices: tuple[str, ...], where: str = "") -> str:
        """A string from a fixed vocabulary; an unknown value is noted and kept as text."""
        value = self.text(data, key, where)
        if value and value not in choices:
            self.notes.append(
                f"{_short(where + key)} {_short(value)!r} is not one of {', '.join(choices)}"
            )
        return value

    def numbers(self, data: dict, key: str) -> dict[str, float]:
        """An object of finite numbers (metrics, timings)."""
        out = {}
        for name, value in self.obj(data, key).items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.wrong(f"{key}.{name}", value, "a number")
            elif not _finite(value):
                self.notes.append(f"{_short(f'{key}.{name}')} is not finite")
            else:
                out[name] = float(value)
        return out

    def array_of(self, data: dict, key: str, kind: type, expected: str, where: str = "") -> list:
        """The items of a list that have type `kind`, noting the others."""
        out = []
        for i, value in enumerate(self.array(data, key, where)):
            if isinstance(value, kind):
                out.append(value)
            else:
                self.wrong(f"{where}{key}[{i}]", value, expected)
        return out


_INFO_CHOICES = {"better": tuple(Better), "source": tuple(Source)}


def metric_info(fields: Fields, data: dict) -> dict[str, dict]:
    """`metric_info`: per metric, string unit/description and a known direction and source."""
    out = {}
    for name, info in fields.obj(data, "metric_info").items():
        if not isinstance(info, dict):
            fields.wrong(f"metric_info.{name}", info, "an object")
            continue
        where = f"metric_info.{name}."
        entry = {k: fields.text(info, k, where) for k in ("unit", "description")}
        for key, choices in _INFO_CHOICES.items():
            entry[key] = fields.choice(info, key, choices, where)
            if entry[key] not in choices:
                entry[key] = ""
        out[name] = {k: v for k, v in entry.items() if v}
    return out


def record_fields(fields: Fields, data: dict) -> dict:
    """The keyword arguments of a Record (all but experiment, variant and path)."""
    artifacts = {}
    for name, value in fields.obj(data, "artifacts").items():
        if isinstance(value, str):
            artifacts[name] = value
        elif value is not None:
            fields.wrong(f"artifacts.{name}", value, "a path")
    return {
        "status": fields.choice(data, "status", tuple(RecordStatus)) or "unknown",
        "metrics": fields.numbers(data, "metrics"),
        "metric_info": metric_info(fields, data),
        "params": fields.obj(data, "params"),
        "artifacts": artifacts,
        "timings": fields.numbers(data, "timings"),
        "environment": fields.obj(data, "environment"),
        "git_commit": fields.text(data, "git_commit"),
        "created": fields.text(data, "created"),
        "notes": fields.array_of(data, "notes", str, "a string"),
        "run": fields.text(data, "run"),
        "samples": fields.obj(data, "samples"),
    }


def run_fields(fields: Fields, data: dict) -> dict:
    """The keyword arguments of a history Run (all but its id) from a run.json."""
    commit = fields.text(data, "git_commit") or None
    dirty = data.get("git_dirty")
    if dirty is not None and not isinstance(dirty, bool):
        fields.wrong("git_dirty", dirty, "a boolean")
        dirty = None
    return {"git_commit": commit, "git_dirty": dirty, "started": fields.text(data, "started"),
            **{key: fields.text(data, key) or None for key in ("machine", "profile")}}


def is_analysis(data: dict) -> bool:
    """Analysis JSONs share results/analysis/ with other artifacts (e.g. comparisons)."""
    return isinstance(data.get("summary"), dict) and ("ops" in data or "table" in data)


def _tensors(fields: Fields, op: dict, key: str, where: str) -> list[dict]:
    out = []
    for i, tensor in enumerate(fields.array_of(op, key, dict, "an object", where)):
        at = f"{where}{key}[{i}]."
        shape = fields.array(tensor, "shape", at) if tensor.get("shape") is not None else None
        if shape is not None and not all(type(d) is int for d in shape):
            fields.wrong(f"{at}shape", shape, "a list of integers")
            shape = [d for d in shape if type(d) is int]
        out.append(
            {
                "name": fields.text(tensor, "name", at),
                "dtype": fields.text(tensor, "dtype", at) or "?",
                "shape": shape,
            }
        )
    return out


def _op(fields: Fields, op: dict, position: int) -> dict:
    """An op; an unknown placement counts as CPU (the compiler maps nothing it cannot name)."""
    at = f"ops[{position}]."
    placement = fields.choice(op, "placement", tuple(Placement), at)
    confidence = fields.choice(op, "confidence", tuple(Confidence), at)
    return {
        "subgraph": fields.integer(op, "subgraph", 0, at),
        "index": fields.integer(op, "index", position, at),
        "opcode": fields.text(op, "opcode", at) or "?",
        "custom_code": fields.text(op, "custom_code", at),
        "version": fields.integer(op, "version", None, at),
        "outputs": fields.array_of(op, "outputs", str, "a string", at),
        "input_tensors": _tensors(fields, op, "input_tensors", at),
        "output_tensors": _tensors(fields, op, "output_tensors", at),
        "placement": Placement(placement) if placement in tuple(Placement) else Placement.CPU,
        "status": fields.text(op, "status", at),
        "reason_code": fields.text(op, "reason_code", at),
        "root_cause": fields.integer(op, "root_cause", None, at),
        "explanation": fields.text(op, "explanation", at),
        "fix": fields.text(op, "fix", at),
        # Analyses written before verdicts had a confidence have neither field: "" (unknown).
        "confidence": confidence if confidence in tuple(Confidence) else "",
        "confidence_reason": fields.text(op, "confidence_reason", at),
    }


SUMMARY_COUNTS = (
    "ops_total",
    "ops_tpu",
    "ops_cpu",
    "ops_dropped",
    "ops_low_confidence",
    "tpu_subgraphs",
)


def _summary(fields: Fields, data: dict) -> dict:
    summary = fields.obj(data, "summary")
    out = {
        key: value
        for key in SUMMARY_COUNTS
        if (value := fields.integer(summary, key, None, "summary.")) is not None
    }
    if what_if := fields.array_of(summary, "what_if", dict, "an object", "summary."):
        out["what_if"] = what_if  # each entry read by report.what_if, which skips bad ones
    for key in ("compiler_version", "source"):
        if value := fields.text(summary, key, "summary."):
            out[key] = value
    if verdict := fields.choice(summary, "verdict", tuple(Verdict), "summary."):
        out["verdict"] = verdict
    if estimate := _estimate(fields, fields.obj(summary, "estimate", "summary.")):
        out["estimate"] = estimate
    return out


def _finite(value) -> bool:
    """A real number a float can hold (not a bool, not 10**400)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _estimate(fields: Fields, data: dict) -> dict:
    """The Edge TPU cost estimate: parameter bytes, cycles, latency per device with its range
    and parts. A device whose latency is not a finite number is left out."""
    if not data:
        return {}
    parameters = fields.obj(data, "parameters", "estimate.")
    ranges = {}
    for device, pair in fields.obj(data, "latency_range_ms", "estimate.").items():
        if isinstance(pair, list) and len(pair) == 2 and all(map(_finite, pair)):
            ranges[device] = [float(v) for v in pair]
    parts = {device: fields.numbers(data["parts_ms"], device)
             for device, value in fields.obj(data, "parts_ms", "estimate.").items()
             if isinstance(value, dict)}
    return {
        "parameters": {key: fields.integer(parameters, key, None, "estimate.parameters.")
                       for key in ("on_chip_bytes", "off_chip_bytes")},
        "cycles": fields.integer(data, "cycles", None, "estimate."),
        "latency_ms": {device: float(value) for device, value
                       in fields.obj(data, "latency_ms", "estimate.").items() if _finite(value)},
        "latency_range_ms": ranges,
        "parts_ms": parts,
        "source": fields.choice(data, "source", tuple(Source), "estimate."),
    }


def _errors(fields: Fields, data: dict) -> list[str]:
    """Error messages: strings, or objects with a message (the compiler's shape)."""
    out = []
    for i, error in enumerate(fields.array(data, "errors")):
        message = error.get("message") if isinstance(error, dict) else error
        if isinstance(message, str):
            out.append(message)
        else:
            fields.wrong(f"errors[{i}]", error, "a message")
    return out


def _model(fields: Fields, data: dict) -> dict:
    model = fields.obj(data, "model")
    out: dict = {k: v for k in ("name", "path", "kind") if (v := fields.text(model, k, "model."))}
    size = fields.integer(model, "size_bytes", None, "model.")
    if size is not None:
        out["size_bytes"] = size
    return out


def normalize_analysis(data: dict, fields: Fields | None = None) -> dict:
    """The analysis with every field the pages read at its contract type (the original bytes
    are still what is published)."""
    fields = fields or Fields()
    summary = _summary(fields, data)
    source = fields.choice(data, "source", tuple(Source)) or summary.get("source", "")
    return {
        "model": _model(fields, data),
        "source": source if source in tuple(Source) else "",
        "summary": summary,
        "options": fields.obj(data, "options"),
        "errors": _errors(fields, data),
        "table": [
            {
                "operator": fields.text(row, "operator", f"table[{i}]."),
                "count": fields.integer(row, "count", 0, f"table[{i}]."),
                "status": fields.text(row, "status", f"table[{i}]."),
            }
            for i, row in enumerate(fields.array_of(data, "table", dict, "an object"))
        ],
        "ops": [
            _op(fields, op, i)
            for i, op in enumerate(fields.array_of(data, "ops", dict, "an object"))
        ],
        "subgraphs": [
            {"name": fields.text(sub, "name", f"subgraphs[{i}].")}
            for i, sub in enumerate(fields.array_of(data, "subgraphs", dict, "an object"))
        ],
    }
