"""Model diagnostics: one analysis JSON → summary, partition strip, per-op table, node data.

Reads the analysis as report.contract normalized it (every field at its type); a log-based
analysis has no per-op rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from tpulens.analyzer.vocabulary import Placement, Source, Verdict
from tpulens.report.labels import PLACEMENT_COLORS, source_label
from tpulens.report.load import Analysis
from tpulens.report.ops import op_id, root_cause_counts
from tpulens.report.tables import Cell, Table


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
    def rejected(self) -> bool:
        """The compiler would refuse the whole model (`errors` says why)."""
        return self.summary.get("verdict") == Verdict.FAILS

    @property
    def counts_only(self) -> bool:
        """A compiler log gives per-operator counts, not per-op rows."""
        return self.source == Source.LOG

    @property
    def title(self) -> str:
        """Runner artifacts are all called model.tflite: name them by who uses them."""
        if not self.used_by:
            return self.name
        users = ", ".join(f"{e}/{v}" for e, v in self.used_by[:3])
        more = f" +{len(self.used_by) - 3}" if len(self.used_by) > 3 else ""
        kind = " compiled" if self.source == Source.COMPILER else ""
        return f"{users}{more}{kind} ({self.name})"


def _tensors(op: dict, key: str) -> str:
    """'UINT8[1,224,224,3]' per tensor, one per line."""
    lines = []
    for t in op[key]:
        dims = ",".join(str(d) for d in t["shape"]) if t["shape"] is not None else "?"
        lines.append(f"{t['dtype']}[{dims}]")
    return "\n".join(lines)


def _tensor_names(op: dict, key: str) -> str:
    return "\n".join(t["name"] for t in op[key])


def _opcode(op: dict) -> str:
    return f"{op['opcode']} ({op['custom_code']})" if op["custom_code"] else op["opcode"]


def partition_strips(ops: list[dict], causes: dict[tuple, int]) -> list[tuple[int, list]]:
    """Ops in execution order per subgraph, coloured by placement, root causes flagged."""
    by_subgraph: dict[int, list[StripCell]] = {}
    for op in ops:
        subgraph, index = op["subgraph"], op["index"]
        n = causes.get((subgraph, index), 0)
        title = f"#{index} {_opcode(op)}: {op['placement']}"
        if n:
            title += f" (root cause: {n} later ops left the TPU)"
        by_subgraph.setdefault(subgraph, []).append(
            StripCell(f"#{op_id(subgraph, index)}", op["placement"], title, n > 0)
        )
    return sorted(by_subgraph.items())


def op_table(slug: str, ops: list[dict], causes: dict[tuple, int]) -> Table:
    rows, ids = [], []
    for op in ops:
        subgraph, index, cause = op["subgraph"], op["index"], op["root_cause"]
        if cause is not None:
            cause_cell = Cell(f"#{cause}", sort=cause, href=f"#{op_id(subgraph, cause)}")
        else:
            cause_cell = Cell("")
        n = causes.get((subgraph, index), 0)
        placement = op["placement"]
        rows.append(
            [
                Cell(
                    str(index),
                    sort=index,
                    cls="rc" if n else "",
                    title=f"root cause of {n} ops leaving the TPU" if n else "",
                ),
                Cell(_opcode(op), title=f"version {op['version']}" if op["version"] else ""),
                Cell(
                    _tensors(op, "input_tensors"),
                    title=_tensor_names(op, "input_tensors"),
                    cls="mono",
                ),
                Cell(
                    _tensors(op, "output_tensors"),
                    title=_tensor_names(op, "output_tensors"),
                    cls="mono",
                ),
                Cell(placement, cls=f"place-{placement.lower()}"),
                Cell(
                    op["status"],
                    title=op["reason_code"],
                    note=op["explanation"] if placement != Placement.TPU else "",
                ),
                cause_cell,
                Cell(op["fix"]),
            ]
        )
        ids.append(op_id(subgraph, index))
    return Table(
        f"ops-{slug}",
        ["#", "op", "inputs", "outputs", "placement", "status", "root cause", "fix"],
        rows,
        row_ids=ids,
        column_titles=[
            "",
            "",
            "",
            "",
            "",
            "",
            "the CPU op that cut the TPU partition this op belonged to",
            "",
        ],
        select_filters=[(4, "placement", sorted({r[4].text for r in rows}))],
        caption="Hover a status for its reason code, a fix for the explanation, "
        "a shape for the tensor name.",
    )


def cpu_reasons(ops: list[dict], causes: dict[tuple, int]) -> list[CpuReason]:
    """Why ops leave the TPU, cause by cause: ops that fail on their own, grouped by opcode
    and reason (ops that only follow a root cause are counted under it, not listed)."""
    groups: dict[tuple, CpuReason] = {}
    for op in ops:
        if op["placement"] == Placement.TPU or op["root_cause"] is not None:
            continue
        key = (_opcode(op), op["status"], op["reason_code"], op["fix"])
        group = groups.setdefault(key, CpuReason(*key[:3], op["explanation"], key[3], [], 0))
        subgraph, index = op["subgraph"], op["index"]
        group.op_links.append((f"#{op_id(subgraph, index)}", f"#{index}"))
        group.pushed += causes.get((subgraph, index), 0)
    return sorted(groups.values(), key=lambda g: (-g.pushed, -len(g.op_links), g.opcode))


def compiler_table(slug: str, data: dict) -> Table:
    rows = [
        [Cell(row["operator"]), Cell(str(row["count"]), sort=row["count"]), Cell(row["status"])]
        for row in data["table"]
    ]
    return Table(
        f"compiler-{slug}",
        ["Operator", "Count", "Status"],
        rows,
        filterable=False,
        caption="In the format of edgetpu_compiler's log.",
    )


def subgraph_names(data: dict) -> dict[int, str]:
    """Graph ids as Model Explorer's TFLite adapter names them ('main' for subgraph 0 unless
    the analysis recorded the real names)."""
    return {i: sub["name"] for i, sub in enumerate(data["subgraphs"]) if sub["name"]}


def node_data(data: dict) -> dict:
    """Model Explorer node data (google-ai-edge/model-explorer node_data_builder shape):
    value 1 = Edge TPU, 0 = CPU, keyed by output tensor name."""
    names = subgraph_names(data)
    graphs: dict[str, dict] = {}
    for op in data["ops"]:
        subgraph = op["subgraph"]
        name = names.get(subgraph) or ("main" if subgraph == 0 else f"subgraph_{subgraph}")
        on_tpu = op["placement"] == Placement.TPU
        results = graphs.setdefault(name, {"results": {}})["results"]
        for tensor in op["outputs"]:
            results[tensor] = {
                "value": 1 if on_tpu else 0,
                "bgColor": PLACEMENT_COLORS[op["placement"]],
            }
    return {"graphsData": graphs}


def model_page(analysis: Analysis) -> ModelPage:
    data = analysis.data  # normalized: every field has its contract type
    ops = data["ops"]
    causes = root_cause_counts(ops)
    return ModelPage(
        slug=analysis.slug,
        name=str(data["model"].get("name") or analysis.path.name),
        model=data["model"],
        source=data["source"],
        source_label=source_label(data["source"]).sentence,
        summary=data["summary"],
        options=data["options"],
        errors=data["errors"],
        compiler_table=compiler_table(analysis.slug, data),
        strips=partition_strips(ops, causes),
        op_table=op_table(analysis.slug, ops, causes) if ops else None,
        cpu_reasons=cpu_reasons(ops, causes),
        used_by=sorted(analysis.used_by),
        tflite_name=f"{analysis.slug}.tflite" if analysis.tflite else None,
    )
