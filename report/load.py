"""Read a results directory (records + analysis JSONs) into plain dataclasses.

Broken, partial or hostile inputs never stop the build: unreadable files and ignored fields
become `problems` that the overview lists, and records without metrics are kept so the site can
show them as skipped or failed. Files are read through report.files (bounded, regular files,
confined to the results and cache trees); an analysis through its type
(tpulens.analyzer.analysis), records through report.record_fields.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from tpulens.analyzer.analysis import SCHEMA_VERSION as ANALYSIS_SCHEMA
from tpulens.analyzer.analysis import (
    Analysis,
    CostEstimate,
    OpTensor,
    OpVerdict,
    Summary,
    is_analysis,
)
from tpulens.analyzer.comparison import CompilerComparison
from tpulens.analyzer.typed_json import FieldError, Fields, finite, version_problem, write
from tpulens.history.store import ANALYSIS, HISTORY, RUN_FILE, Run, legacy_run
from tpulens.report import files
from tpulens.report.record_fields import record_fields, run_fields
from tpulens.runners.records import SCHEMA_VERSION as RECORD_SCHEMA

CACHE = Path(".cache/tpulens")  # beside results/: where `tpulens run` keeps the .tflite files


@dataclass(frozen=True)
class Record:
    """One result record (`results/<experiment>/<variant>.json`)."""

    experiment: str
    variant: str
    status: str
    metrics: dict[str, float]
    metric_info: dict[str, dict]
    params: dict
    artifacts: dict[str, str]
    timings: dict
    environment: dict
    git_commit: str
    created: str
    notes: list[str]
    path: str  # relative to the results directory
    analysis_slug: str | None = None  # diagnostics page of artifacts.analysis
    compiled_slug: str | None = None  # ... of artifacts.compiled_analysis (real compiler)
    run: str = ""  # id of the run that wrote it (tpulens.history.store)
    samples: dict = field(default_factory=dict)  # raw samples by kind (latency_ms: [...])
    examples: Path | None = None  # artifacts.examples (detection pictures), inside results/


@dataclass
class PublishedAnalysis:
    """One analysis JSON and where the site publishes it."""

    slug: str
    path: Path
    raw: bytes  # published as is
    analysis: Analysis  # as read, each field at its type
    tflite: Path | None = None
    used_by: list[tuple[str, str]] = field(default_factory=list)  # (experiment, variant)
    # The real compiler's output compared with this prediction (a record's
    # artifacts.comparison: `tpulens compare --json`), when a record names one.
    comparison: CompilerComparison | None = None

    @cached_property
    def data(self) -> dict:
        """page_data() of the analysis: what the pages read."""
        return page_data(self.analysis)


@dataclass
class Results:
    records: list[Record]
    analyses: list[PublishedAnalysis]
    problems: list[str]
    runs: list[Run] = field(default_factory=list)  # oldest first: history/ and the records' own
    history: list[Record] = field(default_factory=list)  # the copies kept in history/<run>/
    archived: dict[str, PublishedAnalysis] = field(default_factory=dict)  # theirs, by record path

    def experiments(self) -> dict[str, list[Record]]:
        """Records grouped by experiment, both sorted by name for a deterministic site."""
        groups: dict[str, list[Record]] = {}
        for record in self.records:
            groups.setdefault(record.experiment, []).append(record)
        return {name: sorted(groups[name], key=lambda r: r.variant) for name in sorted(groups)}

    def analysis(self, slug: str | None) -> PublishedAnalysis | None:
        return next((a for a in self.analyses if a.slug == slug), None) if slug else None


def slugify(text: str) -> str:
    """A file-name-safe, lower-risk version of any user string (names may contain HTML)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return slug[:80] or "unnamed"


class Slugs:
    """Hands out unique page slugs in a deterministic order (case-insensitively unique, for
    file systems that fold case)."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def new(self, text: str) -> str:
        base = slugify(text)
        slug, n = base, 2
        while slug.lower() in self.taken:
            slug, n = f"{base}-{n}", n + 1
        self.taken.add(slug.lower())
        return slug


# Beside model.path, other model files named (and a batch twin's compiled_from.path).
_PATH_KEYS = ("cpu_model", "compiled_model")


def _published(raw: bytes, model_path: object) -> bytes:
    """The analysis JSON as the site publishes it: a model path that says where the file was
    on the machine that analysed it (absolute, or climbing with ..) is cut to its file name;
    a path inside results/ ("models/x.tflite") says nothing private and stays."""
    private = isinstance(model_path, str) and _private(model_path)
    if not private and not any(f'"{key}"'.encode() in raw
                               for key in (*_PATH_KEYS, "compiled_from")):
        return raw  # nothing to cut: not parsed again
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return raw
    model = data.get("model") if isinstance(data, dict) else None
    holders = [(model, "path")] if isinstance(model, dict) else []
    holders += [(data, key) for key in _PATH_KEYS] if isinstance(data, dict) else []
    twin = data.get("compiled_from") if isinstance(data, dict) else None
    holders += [(twin, "path")] if isinstance(twin, dict) else []
    changed = False
    for holder, key in holders:
        value = holder.get(key)
        if isinstance(value, str) and _private(value):
            holder[key] = value.replace("\\", "/").rsplit("/", 1)[-1]
            changed = True
    if not changed:
        return raw
    return (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode("utf-8", "replace")


def _private(path: str) -> bool:
    """Whether a path names a place outside the results (absolute, home, drive, or ..)."""
    parts = path.replace("\\", "/").split("/")
    return path.startswith(("/", "~", "\\")) or ".." in parts or \
        (len(path) > 1 and path[1] == ":")


def _cache(results_dir: Path) -> tuple[Path, ...]:
    """The run cache beside results/ as a tree models may come from, if neither it nor
    `.cache` is a symbolic link."""
    try:
        files.safefs.link_free(results_dir.parent, results_dir.parent / CACHE)
    except files.Unusable:
        return ()
    return (results_dir.parent / CACHE,)


def _publishable_model(path: Path) -> Path | None:
    """The .tflite that may be published beside its diagnostics page, if present (the site's
    ModelFiles policy decides whether it is)."""
    return path if path.suffix == ".tflite" and files.is_file(path) else None


class _Loader:
    """One load of a results directory (or none: an analysis-only site): the analyses read so
    far by resolved path, the slugs handed out and the problems found."""

    def __init__(self, results_dir: Path | None):
        self.results_dir = results_dir.resolve() if results_dir else None
        # Trees a results file may name a model in: results/ and the run cache beside it,
        # unless the cache is a link (it would bring in files from anywhere).
        self.trees = (self.results_dir, *_cache(self.results_dir)) if results_dir else ()
        # by resolved path, or (path, n) for the n-th of several; None: read, unusable
        self.analyses: dict[Path | tuple, PublishedAnalysis | None] = {}
        self.slugs = Slugs()
        self.problems: list[str] = []
        self.comparisons: set[Path] = set()  # resolved paths read as a record's comparison

    def read(self, path: Path, label: str, limit: int, quiet: bool = False,
             follow: bool = False) -> tuple | None:
        """(raw, data, Fields) of a JSON file, or None with the problem recorded. A link is
        followed only in a file the user named (`follow`)."""
        try:
            raw, data = files.read_json_object(path, limit, follow)
        except files.Unusable as err:
            self.problems.append(f"{label}: {err}")
            return None
        if quiet and not is_analysis(data):
            return None  # another artifact beside the analyses (a comparison, a log)
        return raw, data, Fields(lenient=True)

    def note(self, fields: Fields, label: str) -> None:
        if problem := fields.problem(label):
            self.problems.append(problem)

    def model(self, base: Path, value: str, trees: tuple[Path, ...], label: str) -> Path | None:
        """The .tflite a JSON file names, if it may be published (inside `trees`)."""
        try:
            return _publishable_model(files.confined(base, value, trees))
        except files.Unusable as err:
            self.problems.append(f"{label}: model {value[:200]!r} not published: {err}")
            return None

    def analysis(self, path: Path, label: str, quiet: bool = False,
                 follow: bool = False) -> PublishedAnalysis | None:
        """An analysis JSON, read once. Inside results/, its model path is relative to results/
        (the runners rewrite it so) and may lead into results/ or the run cache; an analysis
        named on the command line may also publish a model from its own folder."""
        key = path.resolve()
        if key in self.analyses:
            return self.analyses[key]
        self.analyses[key] = None
        checked = self.analysis_data(path, label, quiet, follow)
        if checked is None:
            return None
        return self.admit(key, path, *checked, label, path.stem)

    def given(self, path: Path) -> None:
        """An analysis file named on the command line: one analysis, or several (JSON Lines or
        an array, as `tpulens analyze --json` writes for several models), each its own page."""
        try:
            documents = files.read_json_documents(path, files.MAX_ANALYSIS_BYTES)
        except files.Unusable as err:
            self.problems.append(f"{path}: {err}")
            return
        if len(documents) == 1:
            self.analysis(path, str(path), follow=True)
            return
        for i, data in enumerate(documents, 1):
            label = f"{path} (document {i})"
            checked = self.checked_analysis(data, Fields(lenient=True), label)
            model = checked[1].model.path if checked else None
            stem = Path(model).stem if model else f"{path.stem}-{i}"
            if checked:
                raw = json.dumps(data).encode()
                self.admit((path.resolve(), i), path, raw, checked[1], label, stem)

    def admit(self, key, path: Path, raw: bytes, analysis: Analysis, label: str,
              stem: str) -> PublishedAnalysis:
        """A checked analysis read from `path`, with the model it may publish."""
        key_path = path.resolve()
        if self.results_dir and key_path.is_relative_to(self.results_dir):
            base, trees = self.results_dir, self.trees
        else:
            base, trees = key_path.parent, (*self.trees, key_path.parent)
        value = analysis.model.path
        tflite = self.model(base, value, trees, label) if value else None
        published = PublishedAnalysis(self.slugs.new(stem), path, _published(raw, value),
                                      analysis, tflite)
        self.analyses[key] = published
        return published

    def analysis_data(self, path: Path, label: str, quiet: bool = False,
                      follow: bool = False) -> tuple | None:
        """(raw, analysis) of an analysis JSON, or None with the problem recorded."""
        read = self.read(path, label, files.MAX_ANALYSIS_BYTES, quiet, follow)
        if read is None:
            return None
        raw, data, fields = read
        return self.checked_analysis(data, fields, label, raw)

    def checked_analysis(self, data: dict, fields: Fields, label: str,
                         raw: bytes = b"") -> tuple | None:
        """(raw, analysis) of an analysis, or None with the problem recorded. A field of the
        wrong type is noted and left at its default; the file is refused only for a schema
        version this tpulens does not read, or when it is no analysis at all."""
        problem = version_problem(data, ANALYSIS_SCHEMA)
        if problem:
            self.problems.append(f"{label}: {problem}; file skipped")
            return None
        if not is_analysis(data):
            self.problems.append(f"{label}: not an analysis JSON (no summary/ops)")
            return None
        analysis = Analysis.from_json(data, fields)
        self.note(fields, label)
        return raw, analysis

    def record(self, path: Path, run: str = "") -> Record | None:
        """The record at `path`; with `run`, a copy kept in that run's folder of history/."""
        rel = path.relative_to(self.results_dir).as_posix()
        read = self.read(path, rel, files.MAX_RECORD_BYTES)
        if read is None:
            return None
        _, data, fields = read
        problem = version_problem(data, RECORD_SCHEMA)
        if problem:
            self.problems.append(f"{rel}: {problem}; file skipped")
            return None
        record = Record(
            experiment=fields.text(data, "experiment") or path.parent.name,
            variant=fields.text(data, "variant") or path.stem,
            path=rel,
            **record_fields(fields, data),
        )
        self.note(fields, rel)
        if run:  # a run folder's name is its id, whatever the copy says (as the store reads it)
            return replace(record, run=run)
        analysis = self.referenced(record, "analysis", "tflite")
        compiled = self.referenced(record, "compiled_analysis", "compiled_tflite")
        if analysis is not None and analysis.comparison is None:
            analysis.comparison = self.comparison(record)
        return replace(
            record,
            run=record.run or legacy_run(data).id,
            analysis_slug=analysis.slug if analysis else None,
            compiled_slug=compiled.slug if compiled else None,
            examples=self.inside_results(record, "examples"),
        )

    def comparison(self, record: Record) -> CompilerComparison | None:
        """The record's comparison of its model's prediction with the real compiler, inside
        results/ (unreadable: a problem line, and the site shows the prediction alone)."""
        path = self.inside_results(record, "comparison")
        if path is None:
            return None
        self.comparisons.add(path.resolve())
        value = record.artifacts["comparison"][:200]
        read = self.read(path, f"{record.path}: comparison {value!r} not read",
                         files.MAX_ANALYSIS_BYTES)
        if read is None:
            return None
        _, data, fields = read
        try:
            comparison = CompilerComparison.from_json(data, fields)
        except FieldError as err:
            self.problems.append(f"{record.path}: comparison {value!r} not read: {err}")
            return None
        self.note(fields, value)
        return comparison

    def inside_results(self, record: Record, artifact: str) -> Path | None:
        """The file an artifact names, if it lies inside results/ (else a problem)."""
        value = record.artifacts.get(artifact)
        if not value:
            return None
        try:
            return files.confined(self.results_dir, value, self.trees[:1])
        except files.Unusable as err:
            self.problems.append(f"{record.path}: {artifact} {value[:200]!r} not read: {err}")
            return None

    def referenced(self, record: Record, artifact: str,
                   model: str) -> PublishedAnalysis | None:
        """The analysis a record names (it must lie inside results/), with the
        record's model file as the one to publish when the analysis names none."""
        path = self.inside_results(record, artifact)
        if path is None:
            return None
        value = record.artifacts[artifact]
        if not os.path.lexists(path):
            self.problems.append(f"{record.path}: {artifact} {value[:200]!r} not found")
            return None
        analysis = self.analysis(path, value)
        if analysis is None:
            return None
        analysis.used_by.append((record.experiment, record.variant))
        if analysis.tflite is None and record.artifacts.get(model):
            label = f"{record.path}: {model}"
            analysis.tflite = self.model(
                self.results_dir, record.artifacts[model], self.trees, label
            )
        return analysis

    def archived(self, record: Record) -> PublishedAnalysis | None:
        """The analysis a kept copy names (relative to its run folder, inside results/): read
        for comparisons between runs, not published as a page."""
        value = record.artifacts.get("compiled_analysis") or record.artifacts.get("analysis")
        if not value:
            return None
        label = f"{record.path}: analysis {value[:200]!r}"
        folder = self.results_dir / Path(record.path).parent.parent
        try:
            path = files.confined(folder, value, self.trees[:1])
        except files.Unusable as err:
            self.problems.append(f"{label} not read: {err}")
            return None
        checked = self.analysis_data(path, label) if os.path.lexists(path) else None
        return PublishedAnalysis("", path, *checked) if checked else None

    def run(self, folder: Path) -> Run:
        """A run of history/: named by its folder, described by its run.json when readable."""
        path = folder / RUN_FILE
        read = self.read(path, path.relative_to(self.results_dir).as_posix(),
                         files.MAX_RECORD_BYTES) if os.path.lexists(path) else None
        if read is None:
            return Run(folder.name)
        _, data, fields = read
        run = Run(folder.name, **run_fields(fields, data))
        self.note(fields, path.relative_to(self.results_dir).as_posix())
        return run

    def results_files(self, pattern: str) -> list[Path]:
        """Files matching `pattern` that really lie in results/ (a linked directory may not
        bring in files from elsewhere)."""
        found = []
        for path in sorted(self.results_dir.glob(pattern)):
            try:
                files.confined(self.results_dir, str(path), self.trees[:1])
            except files.Unusable as err:
                rel = path.relative_to(self.results_dir).as_posix()
                self.problems.append(f"{rel}: not read: {err}")
                continue
            found.append(path)
        return found


def load_results(results_dir: Path | None, extra_analyses: list[Path] = ()) -> Results:
    """Read every record under results_dir (None: no records) and every analysis JSON they or
    the caller name. An analysis named by the caller may publish a model from its own folder."""
    loader = _Loader(results_dir)
    records, runs, history = [], [], []
    if loader.results_dir:
        paths = [p for p in loader.results_files("*/*.json") if p.parent.name != ANALYSIS]
        records = [r for r in map(loader.record, paths) if r is not None]
        for path in loader.results_files("analysis/*.json"):
            if path.resolve() in loader.comparisons:
                continue  # read with its record, not an analysis
            loader.analysis(path, path.relative_to(loader.results_dir).as_posix(), quiet=True)
        runs = [loader.run(folder) for folder in loader.results_files(f"{HISTORY}/*/")]
        kept = loader.results_files(f"{HISTORY}/*/*/*.json")
        history = [loader.record(p, p.parent.parent.name) for p in kept
                   if p.parent.name != ANALYSIS]
    for path in map(Path, extra_analyses):
        loader.given(path)
    records.sort(key=lambda r: (r.experiment, r.variant, r.path))
    history = [r for r in history if r is not None]
    archived = {r.path: a for r in history if (a := loader.archived(r)) is not None}
    analyses = [a for a in loader.analyses.values() if a is not None]
    return Results(_unique_variants(records, loader.problems), analyses, loader.problems,
                   _all_runs(runs, records), history, archived)


def _all_runs(runs: list[Run], records: list[Record]) -> list[Run]:
    """The runs of history/, and those top-level records name without a folder there (written
    before history was kept, or with their folder gone), oldest first."""
    known = {run.id: run for run in runs}
    for record in records:
        known.setdefault(record.run, Run(record.run, record.git_commit or None,
                                         started=record.created))
    return sorted(known.values(), key=lambda run: run.id)


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


# ---- what the pages read ---------------------------------------------------------------

def normalize_analysis(data: dict, fields: Fields | None = None) -> dict:
    """The pages' view of an analysis JSON, read leniently (wrong fields noted in `fields`)."""
    return page_data(Analysis.from_json(data, fields or Fields(lenient=True)))


def page_data(analysis: Analysis) -> dict:
    """The analysis as the pages read it: plain dicts and lists, every field they use present
    (an empty string where the file had none), and of the estimate only the figures a page
    can show (finite latencies, complete ranges)."""
    model = analysis.model
    shown = {key: str(value) for key in ("name", "path", "kind")
             if (value := getattr(model, key))}
    if model.size_bytes is not None:
        shown["size_bytes"] = model.size_bytes
    return {
        "model": shown,
        "source": analysis.source or analysis.summary.source or "",
        "summary": _page_summary(analysis.summary),
        "options": write(analysis.options),
        "errors": list(analysis.errors),
        "table": [{"operator": row.operator, "count": row.count, "status": row.status or ""}
                  for row in analysis.table],
        "ops": [_page_op(op) for op in analysis.ops],
        "subgraphs": [{"name": sub.name} for sub in analysis.subgraphs or ()],
    }


SUMMARY_COUNTS = ("ops_total", "ops_tpu", "ops_cpu", "ops_dropped", "ops_low_confidence",
                  "tpu_subgraphs")


def _page_summary(summary: Summary) -> dict:
    out = {key: value for key in SUMMARY_COUNTS if (value := getattr(summary, key)) is not None}
    if summary.what_if:
        out["what_if"] = [write(case) for case in summary.what_if]
    for key in ("compiler_version", "source", "verdict"):
        if value := getattr(summary, key):
            out[key] = value
    if summary.estimate is not None and summary.estimate != CostEstimate():
        out["estimate"] = _page_estimate(summary.estimate)
    return out


def _page_estimate(estimate: CostEstimate) -> dict:
    return {
        "parameters": write(estimate.parameters),
        "cycles": estimate.cycles,
        "latency_ms": {device: ms for device, ms in estimate.latency_ms.items() if finite(ms)},
        "latency_range_ms": {device: list(pair) for device, pair
                             in estimate.latency_range_ms.items()
                             if len(pair) == 2 and all(map(finite, pair))},
        "parts_ms": dict(estimate.parts_ms),
        "source": estimate.source or "",
    }


def _page_tensor(tensor: OpTensor) -> dict:
    shape = None if tensor.shape is None else list(tensor.shape)
    return {"name": tensor.name, "dtype": tensor.dtype or "?", "shape": shape}


def _page_op(op: OpVerdict) -> dict:
    return {
        "subgraph": op.subgraph, "index": op.index, "opcode": op.opcode or "?",
        "custom_code": op.custom_code or "", "version": op.version,
        "outputs": list(op.outputs),
        "input_tensors": [_page_tensor(t) for t in op.input_tensors],
        "output_tensors": [_page_tensor(t) for t in op.output_tensors],
        "placement": op.placement, "status": op.status or "", "reason_code": op.reason_code,
        "root_cause": op.root_cause, "explanation": op.explanation, "fix": op.fix,
        # Analyses written before verdicts had a confidence have neither field: "" (unknown).
        "confidence": op.confidence or "", "confidence_reason": op.confidence_reason or "",
    }
