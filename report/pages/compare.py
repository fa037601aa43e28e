"""One compare page per experiment: any variant as any run left it against another, drawn by
compare.js from a small JSON payload (metrics and op placement per variant and run). The pair
shown is kept in the page's address (?a=…&a_run=…&b=…&b_run=…), so a link reproduces it."""

from __future__ import annotations

from tpulens.metrics import bound_keys
from tpulens.report import metric_view as m
from tpulens.report.experiments import Experiment
from tpulens.report.labels import provenance, source_label
from tpulens.report.load import PublishedAnalysis, Record, Results
from tpulens.report.publisher import Publisher, SiteContent, Writer
from tpulens.report.timeline import Timeline, analysis_of, is_kept_copy, run_label


class Compare(Publisher):
    name = "compare"
    order = 30  # reached from each experiment page, not from the navigation

    @classmethod
    def publish(cls, content: SiteContent, writer: Writer) -> None:
        for exp in content.experiments:
            writer.page(
                f"compare/{exp.slug}.html",
                "compare.html",
                title=f"Compare: {exp.name}",
                exp=exp,
                payload=compare_payload(exp, content.results, content.timeline),
            )


def _metrics(record: Record, values: dict, metas: dict[str, m.MetricMeta]) -> dict[str, list]:
    """metric → [value, text, provenance, badge] for the record's measured metrics (a range's
    ends are not metrics of their own)."""
    return {
        key: [
            value,
            m.format_value(value, metas[key].unit)
            + m.range_text(*(values.get(k, (None,))[0] for k in bound_keys(key)), metas[key].unit),
            provenance(source, record.environment, key,
                       str(record.metric_info.get(key, {}).get("description", ""))),
            source_label(source).badge,
        ]
        for key, (value, source) in values.items()
        if key in metas
    }


def _placement(analysis: PublishedAnalysis, signatures: dict[tuple, int]) -> dict:
    """The compiler table, one letter per op (T, C, or d: dropped), and the index of the op
    sequence in `signatures` (so the page can tell whether two entries have the same ops)."""
    data = analysis.data
    sig = tuple((op["subgraph"], op["index"], op["opcode"]) for op in data["ops"])
    return {
        "table": [[r["operator"], r["status"], r["count"]] for r in data["table"]],
        "placement": "".join(op["placement"][0] for op in data["ops"]),
        "sig": signatures.setdefault(sig, len(signatures)),
    }


def compare_payload(exp: Experiment, results: Results, timeline: Timeline) -> dict:
    """Every variant of the experiment in every run that measured it (the latest records are
    the experiment's own, with their diagnostics pages; earlier runs come from the history)."""
    records = timeline.of(exp.name)
    analyses = {r.path: analysis_of(results, r) for r in records}
    values = {r.path: m.effective_metrics(r, analyses[r.path]) for r in records}
    info: dict[str, dict] = {}
    for record in records:  # the newest record that describes a metric says what it means
        for key in values[record.path]:
            if record.metric_info.get(key) or key not in info:
                info[key] = record.metric_info.get(key, {})
    metas = {k: m.meta(k, info[k]) for k in m.metric_order(set(info))}
    runs = [run for run in timeline.runs if any(r.run == run.id for r in records)]
    run_index = {run.id: i for i, run in enumerate(runs)}
    signatures: dict[tuple, int] = {}  # op sequence → its index in "opcodes" (insertion order)
    entries = []
    for record in records:
        analysis = analyses[record.path]
        latest = not is_kept_copy(record)
        slug = record.compiled_slug or record.analysis_slug
        entries.append(
            {
                "variant": record.variant,
                "run": run_index[record.run],
                "latest": latest,
                "status": record.status,
                "metrics": _metrics(record, values[record.path], metas),
                "model": f"../models/{slug}.html" if latest and slug else None,
                **(
                    _placement(analysis, signatures)
                    if analysis
                    else {"table": [], "placement": "", "sig": None}
                ),
            }
        )
    variants = exp.data.variants + sorted({r.variant for r in records} - set(exp.data.variants))
    return {
        "variants": variants,
        "runs": [{"id": run.id, "label": run_label(run)} for run in runs],
        "entries": entries,
        "metrics": [
            {"key": k, "label": meta.label, "unit": meta.unit, "better": meta.better}
            for k, meta in metas.items()
        ],
        "opcodes": list(signatures),
    }
