"""Model diagnostics: one analysis JSON → summary, op graph, per-op table, node data.

Reads the analysis as report.load normalized it (every field at its type); a log-based
analysis has no per-op rows. Where the results hold the real compiler's output for a CPU model
(report.real_placement), its page shows the compiler's placement first, the prediction beside
it and the ops where they differ; a compiled model's page links its CPU model's.
"""

from __future__ import annotations

from dataclasses import dataclass

from tpulens.analyzer.vocabulary import Confidence, Placement, Source, Verdict
from tpulens.report.files import ModelFiles
from tpulens.report.labels import PLACEMENT_COLORS, source_label
from tpulens.report.load import PublishedAnalysis, Results
from tpulens.report.op_graph import OpGraph, op_graph
from tpulens.report.op_groups import (
    MIN_RUN,
    OpGroup,
    fold_runs,
    group_ops,
    op_id,
    root_cause_counts,
    rows_repeat,
)
from tpulens.report.real_placement import (
    RealPlacement,
    pair,
    placed_by_compiler,
    with_counts,
)
from tpulens.report.tables import Cell, RowGroup, Table
from tpulens.report.what_if import int8_outcome, sentence, what_ifs

NAME_CHARS = 36  # a tensor name in the op table; the full name is in the tooltip
MAX_PART = 80  # a single part longer than this (no real model has one) is cut after all
OP_COLUMNS = ["#", "op", "inputs", "outputs", "placement", "status and fix", "root cause"]
STATUS = OP_COLUMNS.index("status and fix")
OP_COLUMN_TITLES = [
    "",
    "",
    "name and type[shape] of each input tensor",
    "name and type[shape] of each output tensor",
    "",
    "the compiler's status (its reason code in the tooltip), why and how to fix it",
    "the CPU op that cut the TPU partition this op belonged to",
]


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


@dataclass(frozen=True)
class CpuModelLink:
    """A compiled model's CPU model: its page, and what the compiler did with its ops."""

    slug: str
    name: str
    real: RealPlacement | None


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
    graph: OpGraph
    int8_outcome: str  # "If fully int8-quantized: …" ("" when the analysis has none)
    other_outcomes: list[str]  # the other what-ifs, one sentence each
    model_file: str | None  # published beside the page (for download and Netron)
    model_note: str  # why it is not, when it is not
    by_type: bool  # the op table has one row per op type and status (nothing on the Edge TPU)
    real: RealPlacement | None = None  # the compiler's placement, shown first (a CPU model)
    predicted: dict | None = None  # the prediction's summary, beside the compiler's
    cpu_model: CpuModelLink | None = None  # a compiled model's CPU model

    @property
    def compiled(self) -> bool:
        """The page is of a compiled *_edgetpu.tflite (its ops are the file's own)."""
        return self.model.get("kind") == "compiled"

    @property
    def difference_links(self) -> list[tuple[str, str]]:
        """(href, "#index OPCODE") of each op the compiler placed elsewhere than predicted."""
        if not self.real:
            return []
        return [(f"#{op_id(d.subgraph, d.index)}" if self.real.per_op else "",
                 f"#{d.index} {d.opcode}: predicted {d.predicted_placement}, "
                 f"compiler {d.actual_placement}")
                for d in self.real.differences]

    @property
    def rejected(self) -> bool:
        """The compiler would refuse the whole model (`errors` says why)."""
        return self.summary.get("verdict") == Verdict.FAILS

    @property
    def counts_only(self) -> bool:
        """A compiler log gives per-operator counts, not per-op rows."""
        return self.source == Source.LOG

    @property
    def folded(self) -> bool:
        """Some op rows are folded: the page is long, the compiler summary can wait."""
        return bool(self.op_table and self.op_table.groups)

    @property
    def placed_by(self) -> str:
        """Who says where the ops run: "predicted", "compiler" or "compiler log"."""
        return source_label(self.source).word

    @property
    def title(self) -> str:
        """Runner artifacts are all called model.tflite: name them by who uses them."""
        if not self.used_by:
            return self.name
        users = ", ".join(f"{e}/{v}" for e, v in self.used_by[:3])
        more = f" +{len(self.used_by) - 3}" if len(self.used_by) > 3 else ""
        kind = " compiled" if self.source == Source.COMPILER and self.real is None else ""
        return f"{users}{more}{kind} ({self.name})"


def short_name(name: str, limit: int = NAME_CHARS) -> str:
    """A tensor name that fits a table cell: of fused names ("a;b") the first, and of a long
    path its last parts that fit after "…/". Parts are not cut, so a name stays searchable by
    what is shown, unless one is absurdly long."""
    first, fused = name.split(";")[0], ";" in name
    if len(first) > limit and "/" in first:
        parts = first.split("/")
        kept = parts[-1]
        for part in reversed(parts[:-1]):
            if len(part) + len(kept) + 3 > limit:
                break
            kept = f"{part}/{kept}"
        first = f"…/{kept}"
    if len(first) > MAX_PART + 2:
        first = first[:MAX_PART] + "…"
    return first + (";…" if fused else "")


def _tensors(op: dict, key: str) -> tuple[str, str]:
    """The cell text ('short_name UINT8[1,224,224,3]' per line) and its tooltip (full names)."""
    lines, titles = [], []
    for t in op[key]:
        dims = ",".join(str(d) for d in t["shape"]) if t["shape"] is not None else "?"
        typed = f"{t['dtype']}[{dims}]"
        lines.append(f"{short_name(t['name'])} {typed}" if t["name"] else typed)
        titles.append(f"{t['name']} {typed}" if t["name"] else typed)
    return "\n".join(lines), "\n".join(titles)


def _opcode(op: dict) -> str:
    return f"{op['opcode']} ({op['custom_code']})" if op["custom_code"] else op["opcode"]


def _placement_cell(placement: str, predicted: str = "") -> Cell:
    """A Placement (TPU, CPU, dropped); with `predicted`, the compiler's, which differs."""
    return Cell(placement, cls=f"place-{placement.lower()}",
                note=f"predicted {predicted}" if predicted else "")


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
            StripCell(f"#{op_id(subgraph, index)}", op["placement"].lower(), title, n > 0)
        )
    return sorted(by_subgraph.items())


def op_row(op: dict, causes: dict[tuple, int]) -> list[Cell]:
    subgraph, index, cause = op["subgraph"], op["index"], op["root_cause"]
    n = causes.get((subgraph, index), 0)
    inputs, input_names = _tensors(op, "input_tensors")
    outputs, output_names = _tensors(op, "output_tensors")
    status_title = op["reason_code"]
    if op["confidence"] == Confidence.LOW:
        status_title += f" (low confidence: {op['confidence_reason'] or 'no reason given'})"
    return [
        Cell(
            str(index),
            sort=index,
            cls="rc" if n else "",
            title=f"root cause of {n} ops leaving the TPU" if n else "",
        ),
        Cell(_opcode(op), title=f"version {op['version']}" if op["version"] else ""),
        Cell(inputs, title=input_names, cls="mono tensors"),
        Cell(outputs, title=output_names, cls="mono tensors"),
        _placement_cell(op["placement"], op.get("predicted_placement", "")),
        Cell(
            op["status"] + (" (low confidence)" if op["confidence"] == Confidence.LOW else ""),
            title=status_title,
            note=_why(op["explanation"] if op["placement"] != Placement.TPU else "", [op["fix"]]),
        ),
        Cell(f"#{cause}", sort=cause, href=f"#{op_id(subgraph, cause)}")
        if cause is not None
        else Cell(""),
    ]


def _why(explanation: str, fixes: list[str]) -> str:
    """The second line of a status: why, then each fix."""
    return "\n".join([explanation] * bool(explanation) + [f"Fix: {f}" for f in fixes if f])


def op_table(slug: str, ops: list[dict], causes: dict[tuple, int], compiled: bool = False
             ) -> Table:
    """One row per op in execution order, long runs of alike ops folded into one row each
    (report.op_groups); when no op reaches the Edge TPU, or the model is compiled (its file
    records no reason for a CPU op), one row per op type and status."""
    by_type = rows_repeat(ops) or compiled
    pinned = {key for key, n in causes.items() if n}
    groups = group_ops(ops) if by_type else fold_runs(ops, pinned)
    ordered = [op for g in groups for op in g.ops]
    table = Table(
        f"ops-{slug}",
        OP_COLUMNS,
        [op_row(op, causes) for op in ordered],
        row_ids=[op_id(op["subgraph"], op["index"]) for op in ordered],
        column_titles=OP_COLUMN_TITLES,
        select_filters=[(4, "placement", sorted({op["placement"] for op in ops}))],
        caption="The filter matches op types, tensor names, statuses and reason codes (what "
        "the cells and their tooltips say). Hover a name for the full name, a status for its "
        "reason code.",
    )
    folds = [
        _group(slug, n, group) if by_type or group.count >= MIN_RUN else _unfolded(group.count)
        for n, group in enumerate(groups)
    ]
    if not any(fold.head for fold in folds):
        return table
    table.groups, table.sortable = folds, False
    if compiled:
        cpu = [fold for fold, g in zip(folds, groups, strict=True) if g.placement != "TPU"]
        notes = {fold.head[STATUS].note for fold in cpu}
        said_once = ""
        if cpu and len(notes) == 1 and (note := notes.pop()):  # every CPU op's: said once
            said_once = f" Every op on the CPU: {note}".replace("\n", " ")
            for cell in [fold.head[STATUS] for fold in cpu] + [row[STATUS] for row in table.rows]:
                cell.note = "" if cell.note == note else cell.note
        table.caption = (
            "Ops are folded by type and status (the Edge TPU subgraphs and each kind of op "
            f"left on the CPU): open a row for its ops.{said_once} {table.caption}"
        )
    elif by_type:
        notes = {fold.head[STATUS].note for fold in folds}
        said_once = ""
        if len(folds) > 1 and len(notes) == 1:  # e.g. the whole model is rejected: say it once
            said_once = f" Every op: {notes.pop()}".replace("\n", " ")
            for fold in folds:
                fold.head[STATUS].note = ""
        table.caption = (
            "No op reaches the Edge TPU, so ops are folded by type and status: open a row "
            f"for its ops.{said_once} {table.caption}"
        )
    else:
        table.caption = (
            f"Runs of {MIN_RUN} or more consecutive ops with the same placement, status and "
            "root cause are folded into one row: open it for its ops. Root causes and "
            f"low-confidence verdicts keep their own rows. {table.caption}"
        )
    return table


def _unfolded(size: int) -> RowGroup:
    """Rows between folded runs, shown as they are."""
    return RowGroup("", None, size)


def _group(slug: str, number: int, group: OpGroup) -> RowGroup:
    explanations = {op["explanation"] for op in group.ops}
    first, last = group.indexes[0], group.indexes[-1]
    cause = group.root_cause
    head = [
        Cell(f"{group.count} op{'s' if group.count > 1 else ''}", sort=group.count),
        Cell(group.opcode, title=f"first op #{first}, last #{last}"),
        Cell(""),
        Cell(""),
        _placement_cell(group.placement),
        Cell(
            group.status,
            title=", ".join(group.reason_codes),
            note=_why(
                explanations.pop() if len(explanations) == 1 and group.placement != Placement.TPU
                else "",
                list(group.fixes),
            ),
        ),
        Cell(f"#{cause}", sort=cause, href=f"#{op_id(group.ops[0]['subgraph'], cause)}")
        if cause is not None
        else Cell(""),
    ]
    return RowGroup(f"ops-{slug}-g{number}", head, group.count)


def cpu_reasons(ops: list[dict], causes: dict[tuple, int]) -> list[CpuReason]:
    """Why ops leave the TPU, cause by cause: ops that fail on their own, grouped by opcode
    and reason (ops that only follow a root cause are counted under it, not listed)."""
    groups: dict[tuple, CpuReason] = {}
    for op in ops:
        if op["placement"] != Placement.CPU or op["root_cause"] is not None:
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
    value 1 = Edge TPU, 0 = CPU, keyed by output tensor name; dropped ops (no compiler output
    says where they run) are left uncoloured."""
    names = subgraph_names(data)
    graphs: dict[str, dict] = {}
    for op in data["ops"]:
        if op["placement"] == Placement.DROPPED:
            continue
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


def published_model(analysis: PublishedAnalysis, policy: ModelFiles) -> tuple[str | None, str]:
    """The file name the model is published under beside its page, or None and why not."""
    if analysis.tflite is None:
        named = analysis.data["model"].get("path")
        return None, (
            f"its file ({named.rsplit('/', 1)[-1]}) is not available to this build"
            if named
            else "the analysis names no model file"
        )
    refusal = policy.refusal(analysis.tflite)
    return (None, refusal) if refusal else (f"{analysis.slug}.tflite", "")


def model_pages(results: Results, policy: ModelFiles) -> list[ModelPage]:
    """One page per analysis, in the results' order: a CPU model's shows the real compiler's
    placement where the results hold it, a compiled model's links its CPU model's page."""
    pairing = pair(results)
    by_slug = {a.slug: a for a in results.analyses}
    pages = []
    for analysis in results.analyses:
        cpu = by_slug.get(pairing.cpu_of.get(analysis.slug, ""))
        link = CpuModelLink(cpu.slug, _name(cpu), pairing.real.get(cpu.slug)) if cpu else None
        pages.append(model_page(analysis, policy, pairing.real.get(analysis.slug), link))
    return pages


def _name(analysis: PublishedAnalysis) -> str:
    return str(analysis.data["model"].get("name") or analysis.path.name)


def model_page(analysis: PublishedAnalysis, policy: ModelFiles, real: RealPlacement | None = None,
               cpu_model: CpuModelLink | None = None) -> ModelPage:
    """The page of one analysis; with `real`, the compiler's placement of its ops first."""
    data = analysis.data  # normalized: every field has its contract type
    predicted = data["summary"]
    if real is not None:
        data = placed_by_compiler(data, real) if real.per_op else with_counts(data, real)
    ops, summary = data["ops"], data["summary"]
    causes = root_cause_counts(ops)
    graph = op_graph(data)
    int8 = int8_outcome(predicted)
    ops_tpu = predicted.get("ops_tpu", 0)  # what-ifs are predictions: beside the prediction
    model_file, model_note = published_model(analysis, policy)
    compiled = data["model"].get("kind") == "compiled"
    return ModelPage(
        slug=analysis.slug,
        name=_name(analysis),
        model=data["model"],
        source=data["source"] if real is None or real.per_op else real.source,
        source_label=source_label(real.source if real else data["source"]).sentence,
        summary=summary,
        options=data["options"],
        errors=data["errors"],
        compiler_table=compiler_table(analysis.slug, data),
        strips=[] if graph.svg else partition_strips(ops, causes),
        op_table=op_table(analysis.slug, ops, causes, compiled) if ops else None,
        cpu_reasons=cpu_reasons(ops, causes),
        used_by=sorted(analysis.used_by),
        graph=graph,
        int8_outcome=sentence(int8, ops_tpu) if int8 else "",
        other_outcomes=[sentence(w, ops_tpu) for w in what_ifs(predicted) if not w.is_int8],
        model_file=model_file,
        model_note=model_note,
        by_type=rows_repeat(ops) or compiled,
        real=real,
        predicted=predicted if real else None,
        cpu_model=cpu_model,
    )
