"""One compare page per experiment: any two variants side by side, drawn by site.js from a
small JSON payload (metrics and op placement per variant)."""

from __future__ import annotations

from tpulens.report import metrics as m
from tpulens.report.experiments import Experiment
from tpulens.report.labels import provenance, source_label
from tpulens.report.load import Analysis, Record, Results
from tpulens.report.publisher import Publisher, SiteContent, Writer


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
                payload=compare_payload(exp, content.results),
            )


def _metrics(exp: Experiment, record: Record) -> dict[str, list]:
    """metric → [value, text, provenance, badge] for the variant's measured metrics."""
    data, out = exp.data, {}
    for key in data.frame.columns:
        value = data.value(record.variant, key)
        if value is not None:
            source = data.source(record.variant, key)
            out[key] = [
                value,
                m.format_value(value, data.metas[key].unit),
                provenance(source, record.environment),
                source_label(source).badge,
            ]
    return out


def _placement(analysis: Analysis, signatures: dict[tuple, int]) -> dict:
    """The compiler table, one letter per op (T/C), and the index of the op sequence in
    `signatures` (so the page can tell whether two variants have the same ops)."""
    data = analysis.data
    sig = tuple((op["subgraph"], op["index"], op["opcode"]) for op in data["ops"])
    return {
        "table": [[r["operator"], r["status"], r["count"]] for r in data["table"]],
        "placement": "".join(op["placement"][0] for op in data["ops"]),
        "sig": signatures.setdefault(sig, len(signatures)),
    }


def compare_payload(exp: Experiment, results: Results) -> dict:
    data = exp.data
    signatures: dict[tuple, int] = {}  # op sequence → its index in "opcodes" (insertion order)
    variants = []
    for record in data.records:
        slug = record.compiled_slug or record.analysis_slug
        analysis = results.analysis(slug)
        variants.append(
            {
                "name": record.variant,
                "status": record.status,
                "metrics": _metrics(exp, record),
                "model": f"../models/{slug}.html" if analysis else None,
                **(
                    _placement(analysis, signatures)
                    if analysis
                    else {"table": [], "placement": "", "sig": None}
                ),
            }
        )
    metrics = [
        {"key": k, "label": meta.label, "unit": meta.unit, "better": meta.better}
        for k, meta in ((k, data.metas[k]) for k in data.frame.columns)
    ]
    return {"variants": variants, "metrics": metrics, "opcodes": list(signatures)}
