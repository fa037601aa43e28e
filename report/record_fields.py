"""The fields of a result record and of a run.json as the site reads them (docs/data-contracts.md):
every field at its contract type. A field of the wrong type is replaced by its empty value and
named in the file's one problem line, so a hand-edited or foreign file still renders and the
reader learns what was ignored."""

from __future__ import annotations

from tpulens.analyzer.typed_json import Fields
from tpulens.analyzer.vocabulary import RecordStatus, Source
from tpulens.metrics import Better

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
