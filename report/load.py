"""Read a results directory (records + analysis JSONs) into plain dataclasses.

Broken or partial inputs never stop the build: unreadable files become `problems` that the
overview lists, and records without metrics are kept so the site can show them as skipped or
failed.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

MAX_PUBLISHED_MODEL_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Record:
    """One result record (`results/<experiment>/<variant>.json`)."""

    experiment: str
    variant: str
    status: str
    metrics: dict[str, float]
    metric_info: dict[str, dict]
    params: dict
    artifacts: dict
    timings: dict
    environment: dict
    git_commit: str
    created: str
    notes: list[str]
    path: str  # relative to the results directory
    analysis_slug: str | None = None  # diagnostics page of artifacts.analysis
    compiled_slug: str | None = None  # ... of artifacts.compiled_analysis (real compiler)


@dataclass
class Analysis:
    """One analysis JSON and where the site publishes it."""

    slug: str
    path: Path
    raw: bytes  # published as is
    data: dict  # normalize_analysis() of it: what the pages read
    tflite: Path | None = None
    used_by: list[tuple[str, str]] = field(default_factory=list)  # (experiment, variant)


@dataclass
class Results:
    records: list[Record]
    analyses: list[Analysis]
    problems: list[str]

    def experiments(self) -> dict[str, list[Record]]:
        """Records grouped by experiment, both sorted by name for a deterministic site."""
        groups: dict[str, list[Record]] = {}
        for record in self.records:
            groups.setdefault(record.experiment, []).append(record)
        return {name: sorted(groups[name], key=lambda r: r.variant) for name in sorted(groups)}

    def analysis(self, slug: str | None) -> Analysis | None:
        return next((a for a in self.analyses if a.slug == slug), None) if slug else None


def slugify(text: str) -> str:
    """A file-name-safe, lower-risk version of any user string (names may contain HTML)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return slug[:80] or "unnamed"


def clean_metrics(raw: object) -> dict[str, float]:
    """Keep only finite plain numbers: records are written by other tools and may hold junk."""
    if not isinstance(raw, dict):
        return {}
    out = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value):
            out[str(key)] = float(value)
    return out


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _read_json(path: Path, problems: list[str], label: str) -> tuple[bytes, dict] | None:
    try:
        raw = path.read_bytes()
        data = json.loads(raw)
    except (OSError, ValueError) as err:
        problems.append(f"{label}: unreadable ({err.__class__.__name__}: {err})")
        return None
    if not isinstance(data, dict):
        problems.append(f"{label}: not a JSON object")
        return None
    return raw, data


def _int(value: object, default: int | None) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _str(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else json.dumps(value)


def _tensors(value: object) -> list[dict]:
    out = []
    for t in value if isinstance(value, list) else []:
        if isinstance(t, dict):
            shape = t.get("shape")
            out.append(
                {
                    "name": _str(t.get("name")),
                    "dtype": _str(t.get("dtype")) or "?",
                    "shape": [d for d in shape if _int(d, None) is not None]
                    if isinstance(shape, list)
                    else None,
                }
            )
    return out


def _op(op: dict, position: int) -> dict:
    return {
        "subgraph": _int(op.get("subgraph"), 0),
        "index": _int(op.get("index"), position),
        "opcode": _str(op.get("opcode")) or "?",
        "custom_code": _str(op.get("custom_code")),
        "version": _int(op.get("version"), None),
        "outputs": [_str(o) for o in op.get("outputs") or [] if o is not None]
        if isinstance(op.get("outputs"), list)
        else [],
        "input_tensors": _tensors(op.get("input_tensors")),
        "output_tensors": _tensors(op.get("output_tensors")),
        "placement": "TPU" if op.get("placement") == "TPU" else "CPU",
        "status": _str(op.get("status")),
        "reason_code": _str(op.get("reason_code")),
        "root_cause": _int(op.get("root_cause"), None),
        "explanation": _str(op.get("explanation")),
        "fix": _str(op.get("fix")),
    }


def normalize_analysis(data: dict) -> dict:
    """The analysis with every field the pages read coerced to its contract type, so that a
    hand-edited or foreign file renders (the original bytes are still what is published)."""
    ops = data.get("ops") if isinstance(data.get("ops"), list) else []
    table = data.get("table") if isinstance(data.get("table"), list) else []
    summary = _dict(data.get("summary"))
    return {
        "model": {
            k: v
            for k, v in _dict(data.get("model")).items()
            if k in ("name", "path", "kind", "size_bytes")
        },
        "source": _str(data.get("source") or summary.get("source")),
        "summary": {
            k: v
            for k, v in summary.items()
            if isinstance(v, str | int | float) and not isinstance(v, bool)
        },
        "options": _dict(data.get("options")),
        "errors": [
            _str(e.get("message", e) if isinstance(e, dict) else e)
            for e in data.get("errors") or []
            if e is not None
        ]
        if isinstance(data.get("errors"), list)
        else [],
        "table": [
            {
                "operator": _str(r.get("operator")),
                "count": _int(r.get("count"), 0),
                "status": _str(r.get("status")),
            }
            for r in table
            if isinstance(r, dict)
        ],
        "ops": [_op(op, i) for i, op in enumerate(ops) if isinstance(op, dict)],
        "subgraphs": [{"name": _str(_dict(sg).get("name"))} for sg in data.get("subgraphs")]
        if isinstance(data.get("subgraphs"), list)
        else [],
    }


def is_analysis(data: dict) -> bool:
    """Analysis JSONs share results/analysis/ with other artifacts (e.g. comparisons)."""
    return isinstance(data.get("summary"), dict) and ("ops" in data or "table" in data)


def _record(data: dict, rel: str) -> Record:
    parts = Path(rel).parts
    notes = data.get("notes")
    return Record(
        experiment=str(data.get("experiment") or parts[0]),
        variant=str(data.get("variant") or Path(rel).stem),
        status=str(data.get("status") or "unknown"),
        metrics=clean_metrics(data.get("metrics")),
        metric_info={str(k): _dict(v) for k, v in _dict(data.get("metric_info")).items()},
        params=_dict(data.get("params")),
        artifacts=_dict(data.get("artifacts")),
        timings=clean_metrics(data.get("timings")),
        environment=_dict(data.get("environment")),
        git_commit=str(data.get("git_commit") or ""),
        created=str(data.get("created") or ""),
        notes=[str(n) for n in notes] if isinstance(notes, list) else [],
        path=rel,
    )


def _resolve(base: Path, value: object) -> Path | None:
    if not isinstance(value, str) or not value:
        return None
    path = Path(value)
    return path if path.is_absolute() else base / path


def _publishable_model(path: Path | None) -> Path | None:
    """The .tflite to publish beside its diagnostics page (for Netron), if present and small."""
    if path is None or path.suffix != ".tflite" or not path.is_file():
        return None
    return path if path.stat().st_size <= MAX_PUBLISHED_MODEL_BYTES else None


class _Slugs:
    """Hands out unique page slugs in a deterministic order."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def new(self, text: str) -> str:
        base = slugify(text)
        slug, n = base, 2
        while slug.lower() in self.taken:
            slug, n = f"{base}-{n}", n + 1
        self.taken.add(slug.lower())
        return slug


def load_results(results_dir: Path, extra_analyses: list[Path] = ()) -> Results:
    """Read every record under results_dir and every analysis JSON they (or the caller) name."""
    results_dir = Path(results_dir)
    problems: list[str] = []
    analyses: dict[Path, Analysis] = {}
    slugs = _Slugs()

    def add_analysis(path: Path, label: str, quiet: bool = False) -> Analysis | None:
        key = path.resolve()
        if key in analyses:
            return analyses[key]
        read = _read_json(path, problems, label)
        if read is None:
            return None
        raw, data = read
        if not is_analysis(data):
            if not quiet:
                problems.append(f"{label}: not an analysis JSON (no summary/ops)")
            return None
        model = _dict(data.get("model"))
        tflite = _resolve(path.parent, model.get("path"))
        analysis = Analysis(
            slugs.new(path.stem), path, raw, normalize_analysis(data), _publishable_model(tflite)
        )
        analyses[key] = analysis
        return analysis

    def referenced(record: Record, artifact: str, rel: str) -> str | None:
        path = _resolve(results_dir, record.artifacts.get(artifact))
        if path is None:
            return None
        if not path.is_file():
            problems.append(f"{rel}: {artifact} {record.artifacts[artifact]} not found")
            return None
        analysis = add_analysis(path, str(record.artifacts[artifact]))
        if analysis is None:
            return None
        analysis.used_by.append((record.experiment, record.variant))
        tflite = _resolve(
            results_dir,
            record.artifacts.get("tflite" if artifact == "analysis" else "compiled_tflite"),
        )
        analysis.tflite = analysis.tflite or _publishable_model(tflite)
        return analysis.slug

    records = []
    record_paths = sorted(p for p in results_dir.glob("*/*.json") if p.parent.name != "analysis")
    for path in record_paths:
        rel = path.relative_to(results_dir).as_posix()
        read = _read_json(path, problems, rel)
        if read is None:
            continue
        record = _record(read[1], rel)
        records.append(
            replace(
                record,
                analysis_slug=referenced(record, "analysis", rel),
                compiled_slug=referenced(record, "compiled_analysis", rel),
            )
        )

    for path in sorted((results_dir / "analysis").glob("*.json")):
        add_analysis(path, path.relative_to(results_dir).as_posix(), quiet=True)
    for path in extra_analyses:
        if not Path(path).is_file():
            problems.append(f"{path}: analysis file not found")
            continue
        add_analysis(Path(path), str(path))

    records.sort(key=lambda r: (r.experiment, r.variant, r.path))
    return Results(_unique_variants(records, problems), list(analyses.values()), problems)


def _unique_variants(records: list[Record], problems: list[str]) -> list[Record]:
    """Two files claiming the same experiment/variant both stay visible, told apart by path."""
    seen: set[tuple[str, str]] = set()
    out = []
    for record in records:
        key = (record.experiment, record.variant)
        if key in seen:
            problems.append(
                f"{record.path}: duplicate variant {record.experiment}/"
                f"{record.variant}, shown as '{record.variant} [{record.path}]'"
            )
            record = replace(record, variant=f"{record.variant} [{record.path}]")
        seen.add(key)
        out.append(record)
    return out
