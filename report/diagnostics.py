"""Model diagnostics: one analysis JSON → summary, partition strip, per-op table, node data.

Reads the Analysis JSON of docs/data-contracts.md defensively: a log-based analysis has no
per-op rows, and hand-written files may miss fields.
"""

from __future__ import annotations

from dataclasses import dataclass

from report.load import Analysis
from report.tables import Cell, Table

TPU_COLOR, CPU_COLOR = "#2e7d32", "#ef6c00"
SOURCE_LABELS = {
    "predicted": "prediction by the tpulens analyzer (no compiler run)",
    "compiler": "real edgetpu_compiler output (compiled *_edgetpu.tflite)",
    "log": "real edgetpu_compiler log (per-operator counts)",
}


@dataclass
class StripCell:
    href: str
    placement: str
    title: str
    root_cause: bool


@dataclass
class CpuReason:
    """CPU ops that share one cause, with how many later ops they pushed off the TPU."""

    opcode: str
    status: str
    reason_code: str
    explanation: str
    fix: str
    op_links: list[tuple[str, str]]  # (href, label)
    pushed: int


@dataclass
class ModelPage:
    slug: str
    name: str
    model: dict
    source: str
    source_label: str
    summary: dict
    options: dict
    errors: list[str]
    compiler_table: Table
    strips: list[tuple[int, list[StripCell]]]
    op_table: Table | None
    cpu_reasons: list[CpuReason]
    used_by: list[tuple[str, str]]
    tflite_name: str | None

    @property
    def title(self) -> str:
        """Runner artifacts are all called model.tflite: name them by who uses them."""
        if not self.used_by:
            return self.name
        users = ", ".join(f"{e}/{v}" for e, v in self.used_by[:3])
        more = f" +{len(self.used_by) - 3}" if len(self.used_by) > 3 else ""
        kind = " compiled" if self.source == "compiler" else ""
        return f"{users}{more}{kind} ({self.name})"


def op_id(subgraph: object, index: object) -> str:
    return f"op-{subgraph}-{index}"


def _ops(data: dict) -> list[dict]:
    ops = data.get("ops")
    return [op for op in ops if isinstance(op, dict)] if isinstance(ops, list) else []


def _tensors(op: dict, key: str) -> str:
    """'UINT8[1,224,224,3]' per tensor, one per line."""
    tensors = op.get(key)
    if not isinstance(tensors, list):
        return ""
    lines = []
    for t in tensors:
        if not isinstance(t, dict):
            continue
        shape = t.get("shape")
        dims = ",".join(str(d) for d in shape) if isinstance(shape, list) else "?"
        lines.append(f"{t.get('dtype', '?')}[{dims}]")
    return "\n".join(lines)


def _tensor_names(op: dict, key: str) -> str:
    tensors = op.get(key)
    if not isinstance(tensors, list):
        return ""
    return "\n".join(str(t.get("name", "")) for t in tensors if isinstance(t, dict))


def _opcode(op: dict) -> str:
    opcode = str(op.get("opcode", "?"))
    custom = op.get("custom_code")
    return f"{opcode} ({custom})" if custom else opcode


def root_cause_counts(ops: list[dict]) -> dict[tuple, int]:
    """How many ops each root-cause op pushed off the TPU partition."""
    counts: dict[tuple, int] = {}
    for op in ops:
        cause = op.get("root_cause")
        if isinstance(cause, int) and not isinstance(cause, bool):
            key = (op.get("subgraph", 0), cause)
            counts[key] = counts.get(key, 0) + 1
    return counts


def partition_strips(ops: list[dict], causes: dict[tuple, int]) -> list[tuple[int, list]]:
    """Ops in execution order per subgraph, coloured by placement, root causes flagged."""
    by_subgraph: dict[int, list[StripCell]] = {}
    for op in ops:
        subgraph, index = op.get("subgraph", 0), op.get("index", "?")
        n = causes.get((subgraph, index), 0)
        title = f"#{index} {_opcode(op)}: {op.get('placement', '?')}"
        if n:
            title += f" (root cause: {n} later ops left the TPU)"
        by_subgraph.setdefault(subgraph, []).append(
            StripCell(f"#{op_id(subgraph, index)}", str(op.get("placement", "?")), title, n > 0))
    return sorted(by_subgraph.items(), key=lambda item: str(item[0]))


def op_table(slug: str, ops: list[dict], causes: dict[tuple, int]) -> Table:
    rows, ids = [], []
    for op in ops:
        subgraph, index = op.get("subgraph", 0), op.get("index", "?")
        cause = op.get("root_cause")
        if isinstance(cause, int) and not isinstance(cause, bool):
            cause_cell = Cell(f"#{cause}", sort=cause, href=f"#{op_id(subgraph, cause)}",
                              title="the CPU op that cut the TPU partition")
        else:
            cause_cell = Cell("")
        n = causes.get((subgraph, index), 0)
        placement = str(op.get("placement", "?"))
        reason = str(op.get("reason_code") or "")
        rows.append([
            Cell(str(index), sort=index if isinstance(index, int) else str(index),
                 cls="rc" if n else "",
                 title=f"root cause of {n} ops leaving the TPU" if n else ""),
            Cell(_opcode(op), title=f"version {op.get('version', '?')}"),
            Cell(_tensors(op, "input_tensors"), title=_tensor_names(op, "input_tensors"),
                 cls="mono"),
            Cell(_tensors(op, "output_tensors"), title=_tensor_names(op, "output_tensors"),
                 cls="mono"),
            Cell(placement, cls=f"place-{placement.lower()}"),
            Cell(str(op.get("status", "")), title=reason,
                 note=str(op.get("explanation") or "") if placement != "TPU" else ""),
            cause_cell,
            Cell(str(op.get("fix") or "")),
        ])
        ids.append(op_id(subgraph, index))
    return Table(f"ops-{slug}", ["#", "op", "inputs", "outputs", "placement", "status",
                                 "root cause", "fix"], rows, row_ids=ids,
                 select_filters=[(4, "placement", sorted({r[4].text for r in rows}))],
                 caption="Hover a status for its reason code, a fix for the explanation, "
                         "a shape for the tensor name.")


def cpu_reasons(ops: list[dict], causes: dict[tuple, int]) -> list[CpuReason]:
    """Why ops leave the TPU, cause by cause: ops that fail on their own, grouped by opcode
    and reason (ops that only follow a root cause are counted under it, not listed)."""
    groups: dict[tuple, CpuReason] = {}
    for op in ops:
        if op.get("placement") == "TPU" or isinstance(op.get("root_cause"), int):
            continue
        key = (_opcode(op), str(op.get("status", "")), str(op.get("reason_code") or ""),
               str(op.get("fix") or ""))
        group = groups.setdefault(key, CpuReason(*key[:3], str(op.get("explanation") or ""),
                                                 key[3], [], 0))
        subgraph, index = op.get("subgraph", 0), op.get("index", "?")
        group.op_links.append((f"#{op_id(subgraph, index)}", f"#{index}"))
        group.pushed += causes.get((subgraph, index), 0)
    return sorted(groups.values(), key=lambda g: (-g.pushed, -len(g.op_links), g.opcode))


def compiler_table(slug: str, data: dict) -> Table:
    rows = []
    for row in data.get("table") or []:
        if isinstance(row, dict):
            count = row.get("count", "")
            rows.append([Cell(str(row.get("operator", ""))),
                         Cell(str(count), sort=count if isinstance(count, int) else None),
                         Cell(str(row.get("status", "")))])
    return Table(f"compiler-{slug}", ["Operator", "Count", "Status"], rows, filterable=False,
                 caption="In the format of edgetpu_compiler's log.")


def subgraph_names(data: dict) -> dict[int, str]:
    """Graph ids as Model Explorer's TFLite adapter names them ('main' for subgraph 0 unless
    the analysis recorded the real names)."""
    names = {}
    for i, sub in enumerate(data.get("subgraphs") or []):
        if isinstance(sub, dict) and sub.get("name"):
            names[i] = str(sub["name"])
    return names


def node_data(data: dict) -> dict:
    """Model Explorer node data (google-ai-edge/model-explorer node_data_builder shape):
    value 1 = Edge TPU, 0 = CPU, keyed by output tensor name."""
    names = subgraph_names(data)
    graphs: dict[str, dict] = {}
    for op in _ops(data):
        subgraph = op.get("subgraph", 0)
        name = names.get(subgraph) or ("main" if subgraph == 0 else f"subgraph_{subgraph}")
        on_tpu = op.get("placement") == "TPU"
        results = graphs.setdefault(name, {"results": {}})["results"]
        for tensor in op.get("outputs") or []:
            results[str(tensor)] = {"value": 1 if on_tpu else 0,
                                    "bgColor": TPU_COLOR if on_tpu else CPU_COLOR}
    return {"graphsData": graphs}


def model_page(analysis: Analysis) -> ModelPage:
    data = analysis.data
    ops = _ops(data)
    causes = root_cause_counts(ops)
    model = data.get("model") if isinstance(data.get("model"), dict) else {}
    summary = data.get("summary") if isinstance(data.get("summary"), dict) else {}
    source = str(data.get("source") or summary.get("source") or "")
    errors = [str(e) if not isinstance(e, dict) else e.get("message", str(e))
              for e in data.get("errors") or []]
    return ModelPage(
        slug=analysis.slug,
        name=str(model.get("name") or analysis.path.name),
        model=model,
        source=source,
        source_label=SOURCE_LABELS.get(source, "source not recorded"),
        summary=summary,
        options=data.get("options") if isinstance(data.get("options"), dict) else {},
        errors=errors,
        compiler_table=compiler_table(analysis.slug, data),
        strips=partition_strips(ops, causes),
        op_table=op_table(analysis.slug, ops, causes) if ops else None,
        cpu_reasons=cpu_reasons(ops, causes),
        used_by=sorted(analysis.used_by),
        tflite_name=f"{analysis.slug}.tflite" if analysis.tflite else None,
    )
