"""Compare two result sets variant by variant: metrics (judged by tpulens.history.judgment, as
the site judges them), Edge TPU placement, environment. A reason some rows are not judged (a
machine shift, another machine) is a finding, named once.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import asdict, dataclass, field

from tpulens import safefs
from tpulens.analyzer.vocabulary import Change, Placement, RecordStatus
from tpulens.history.judgment import Judge, MachineShift, MetricChange, judged
from tpulens.history.settings import Settings
from tpulens.history.store import MAX_ANALYSIS_BYTES, Entry

SCHEMA_VERSION = 2
ENVIRONMENT_KEYS = ("python", "tensorflow", "ai_edge_litert", "cpu", "machine", "threads",
                    "edgetpu_runtime", "edgetpu_compiler")


@dataclass(frozen=True)
class MovedOp:
    """An op that runs on the other side of the Edge TPU/CPU line in head."""

    subgraph: int
    index: int  # in head
    opcode: str
    output: str
    base_placement: str
    head_placement: str
    base_status: str
    head_status: str
    root_cause: str  # the CPU op that cut the TPU partition, on the side where this op is on CPU


@dataclass
class VariantDiff:
    experiment: str
    variant: str
    base_status: str
    head_status: str
    metrics: list[MetricChange] = field(default_factory=list)
    moved_ops: list[MovedOp] = field(default_factory=list)
    placement_source: str | None = None  # predicted | compiler: which analyses were compared
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.experiment}/{self.variant}"

    @property
    def status_regressed(self) -> bool:
        return self.base_status == RecordStatus.OK and self.head_status != RecordStatus.OK

    @property
    def worse(self) -> list[MetricChange]:
        return [m for m in self.metrics if m.change == Change.WORSE]

    @property
    def moved_to_cpu(self) -> list[MovedOp]:
        return [op for op in self.moved_ops if op.head_placement != Placement.TPU]

    @property
    def regressed(self) -> bool:
        """Ok no longer, a metric worse beyond its threshold, or an op that left the Edge TPU
        (whatever the op-count metrics say: a record may not have them)."""
        return self.status_regressed or bool(self.worse) or bool(self.moved_to_cpu)

    def to_json(self) -> dict:
        return {"experiment": self.experiment, "variant": self.variant,
                "base_status": self.base_status, "head_status": self.head_status,
                "regressed": self.regressed,
                "metrics": [m.to_json() for m in self.metrics],
                "moved_ops": [asdict(op) for op in self.moved_ops],
                "placement_source": self.placement_source, "notes": self.notes}


@dataclass(frozen=True)
class EnvironmentDifference:
    key: str
    base: list[str]
    head: list[str]


@dataclass
class Diff:
    base_label: str
    head_label: str
    base_runs: list[str]  # commit labels of the runs the compared records come from
    head_runs: list[str]
    variants: list[VariantDiff]
    added: list[str]
    removed: list[str]
    environment: list[EnvironmentDifference]
    shifts: list[MachineShift] = field(default_factory=list)

    @property
    def findings(self) -> list[tuple[str, int]]:
        """Each reason rows were not judged, named once, with how many rows it covers."""
        counts = Counter(m.note for v in self.variants for m in v.metrics if m.covered)
        return sorted(counts.items())

    @property
    def regressions(self) -> list[tuple[VariantDiff, MetricChange]]:
        """Every worse metric, the one furthest beyond its threshold first."""
        return largest_first([(v, m) for v in self.variants for m in v.worse])

    @property
    def regressed(self) -> bool:
        return any(v.regressed for v in self.variants)

    def counts(self) -> Counter:
        return Counter(str(m.change) for v in self.variants for m in v.metrics)

    def to_json(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, "regressed": self.regressed,
                "base": {"label": self.base_label, "runs": self.base_runs},
                "head": {"label": self.head_label, "runs": self.head_runs},
                "counts": dict(sorted(self.counts().items())),
                "variants": [v.to_json() for v in self.variants],
                "added": self.added, "removed": self.removed,
                "environment": [asdict(e) for e in self.environment],
                "machine_shifts": [shift.to_json() for shift in self.shifts],
                "findings": [{"finding": note, "rows": rows} for note, rows in self.findings]}


def largest_first(rows: list[tuple[VariantDiff, MetricChange]]) -> list[tuple[VariantDiff,
                                                                          MetricChange]]:
    """The change spanning the most thresholds first; among equals, the largest relative change."""
    return sorted(rows, key=lambda vm: (-vm[1].thresholds_crossed,
                                        -abs(vm[1].relative if vm[1].relative is not None
                                             else math.inf)))


def compare(base: dict[tuple[str, str], Entry], head: dict[tuple[str, str], Entry],
            settings: Settings, base_label: str, head_label: str) -> Diff:
    """Diff two snapshots (experiment, variant) → record, e.g. History.latest() of each."""
    common = sorted(set(base) & set(head))
    analyses = {side: {key: _analysis(entries[key], _artifact(base[key], head[key]))
                       for key in common}
                for side, entries in (("base", base), ("head", head))}
    judge = Judge(base, head, settings)
    variants = [_variant(judge, key, analyses["base"][key], analyses["head"][key])
                for key in common]
    return Diff(base_label, head_label, _runs(base), _runs(head), variants,
                added=[head[k].name for k in sorted(set(head) - set(base))],
                removed=[base[k].name for k in sorted(set(base) - set(head))],
                environment=_environment_differences(
                    _environment(base.values(), analyses["base"].values()),
                    _environment(head.values(), analyses["head"].values())),
                shifts=sorted(judge.shifts.values(), key=lambda shift: shift.samples))


def moved_ops(base: dict, head: dict) -> list[MovedOp]:
    """Ops of head whose placement differs from the same op in base. Ops are matched by their
    first output tensor's name, then the rest by opcode and order within the subgraph."""
    base_ops, head_ops = _ops(base), _ops(head)
    by_output = {(o["subgraph"], o["output"]): o for o in base_ops if o["output"]}
    pairs, matched, unmatched_head = [], set(), []
    for op in head_ops:
        match = by_output.pop((op["subgraph"], op["output"]), None) if op["output"] else None
        if match is None:
            unmatched_head.append(op)
        else:
            pairs.append((match, op))
            matched.add(id(match))
    queues: dict[tuple, deque] = {}
    for op in base_ops:
        if id(op) not in matched:
            queues.setdefault((op["subgraph"], op["opcode"]), deque()).append(op)
    for op in unmatched_head:
        queue = queues.get((op["subgraph"], op["opcode"]))
        if queue:
            pairs.append((queue.popleft(), op))
    causes = {side: {(o["subgraph"], o["index"]): o for o in reversed(ops)}
              for side, ops in (("base", base_ops), ("head", head_ops))}
    out = []
    for old, new in pairs:
        if old["placement"] == new["placement"]:
            continue
        on_cpu, side = (new, "head") if new["placement"] != Placement.TPU else (old, "base")
        out.append(MovedOp(new["subgraph"], new["index"], new["opcode"], new["output"],
                           old["placement"], new["placement"], old["status"], new["status"],
                           _root_cause(on_cpu, causes[side])))
    return sorted(out, key=lambda m: (m.subgraph, m.index))


def _ops(analysis: dict) -> list[dict]:
    """The fields of each op that placement changes are read from, with their contract types
    (an analysis JSON may come from another tool or be edited by hand)."""
    ops = analysis.get("ops")
    out = []
    for position, op in enumerate(ops if isinstance(ops, list) else []):
        if not isinstance(op, dict):
            continue
        first = _first_output(op)
        out.append({"subgraph": _int(op.get("subgraph")),
                    "index": _int(op.get("index"), position),
                    "opcode": _text(op.get("opcode")) or "?",
                    "output": _text(first),
                    "placement": Placement.TPU if op.get("placement") == Placement.TPU
                    else Placement.CPU,
                    "status": _text(op.get("status")),
                    "root_cause": _int(op.get("root_cause"), None)})
    return out


def _first_output(op: dict) -> object:
    """The name of an op's first output: `output_tensors[0].name` (schema 2), or
    `outputs[0]` (schema 1 wrote both; a hand-written file may hold either)."""
    tensors = op.get("output_tensors")
    if isinstance(tensors, list) and tensors and isinstance(tensors[0], dict):
        return tensors[0].get("name")
    outputs = op.get("outputs")
    return outputs[0] if isinstance(outputs, list) and outputs else None


def _variant(judge: Judge, key: tuple[str, str], base_analysis, head_analysis) -> VariantDiff:
    base, head = judge.base[key], judge.head[key]
    diff = VariantDiff(base.experiment, base.variant, str(base.record.get("status") or "unknown"),
                       str(head.record.get("status") or "unknown"))
    if diff.status_regressed:
        notes = head.record.get("notes")
        diff.notes.append(f"status {diff.base_status} → {diff.head_status}: "
                          + "; ".join(str(n) for n in (notes if isinstance(notes, list)
                                                       else [])[:3]))
    base_metrics, head_metrics = judge.values(base), judge.values(head)
    diff.metrics = [judge.metric(key, name)
                    for name in judged(set(base_metrics) & set(head_metrics))]
    for side, names in (("base", set(base_metrics) - set(head_metrics)),
                        ("head", set(head_metrics) - set(base_metrics))):
        if names:
            diff.notes.append(f"only in {side}: {', '.join(sorted(names))}")
    if isinstance(base_analysis, dict) and isinstance(head_analysis, dict):
        diff.placement_source = str(head_analysis.get("source") or "")
        diff.moved_ops = moved_ops(base_analysis, head_analysis)
    for side, analysis in (("base", base_analysis), ("head", head_analysis)):
        if isinstance(analysis, str):
            diff.notes.append(f"{side} analysis: {analysis}")
    return diff


def _artifact(base: Entry, head: Entry) -> str:
    """The analysis both records have: the real compiler's when both have one."""
    both = base.artifact("compiled_analysis") and head.artifact("compiled_analysis")
    return "compiled_analysis" if both else "analysis"


def _analysis(entry: Entry, artifact: str) -> dict | str | None:
    """The analysis JSON, read only from inside the results store the record belongs to; an
    error message when it is unreadable; None when there is none."""
    path = entry.artifact(artifact)
    if path is None:
        return None
    store_root = entry.base if entry.latest else entry.base.parent.parent  # history/<run>/
    try:
        raw = entry.read_artifact(artifact, safefs.Root.of(store_root), MAX_ANALYSIS_BYTES)
        data = safefs.load_json(raw)
    except safefs.Unusable as err:
        return f"{path.name[:100]}: {err}"
    except (ValueError, RecursionError) as err:
        return f"{path.name[:100]} unreadable ({type(err).__name__})"
    return data if isinstance(data, dict) else f"{path.name[:100]} is not a JSON object"


def _root_cause(op: dict, ops: dict[tuple[int, int], dict]) -> str:
    """The CPU op that cut the partition (`ops`: (subgraph, index) → its first op)."""
    index = op["root_cause"]
    if index is None:
        return ""
    cause = ops.get((op["subgraph"], index))
    return f"op {index} {cause['opcode']}: {cause['status']}" if cause else f"op {index}"


def _environment(entries, analyses) -> dict[str, set[str]]:
    values: dict[str, set[str]] = {}
    for entry in entries:
        for key, value in _dict(entry.record.get("environment")).items():
            values.setdefault(key, set()).add(str(value))
    for data in analyses:
        if isinstance(data, dict):
            values.setdefault("edgetpu_compiler", set()).add(
                f"{data.get('compiler_version', '?')} ({data.get('source', '?')})")
    return values


def _environment_differences(base: dict, head: dict) -> list[EnvironmentDifference]:
    keys = [k for k in ENVIRONMENT_KEYS if k in base or k in head]
    keys += sorted((set(base) | set(head)) - set(ENVIRONMENT_KEYS))
    return [EnvironmentDifference(k, sorted(base.get(k, ())), sorted(head.get(k, ())))
            for k in keys if base.get(k, set()) != head.get(k, set())]


def _runs(entries: dict[tuple[str, str], Entry]) -> list[str]:
    return sorted({e.run.commit_label for e in entries.values()})


def _int(value: object, default: int | None = 0) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}
