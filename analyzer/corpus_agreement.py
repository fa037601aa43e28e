"""Agreement of the analyzer's predictions with the real compiler on a corpus of pairs: what the
corpus tests measure and what tools/gen_corpus_evidence.py writes into corpus_evidence.

The corpus layout is ground_truth.CORPUS's: PAIRS.tsv lists CPU models with their compiled
`*_edgetpu.tflite` and/or `*_edgetpu.log` and the compiler version. Per-op truth comes from the
compiled model (by tensor names); per-(operator, status) truth from the log. Rows whose `caveat`
starts with "exclude" are not placement truth and are left out. A compiled model holding several
Edge TPU custom ops was compiled with -a, so it is analysed with -a.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tpulens.analyzer.analyze import analyze_model, make_options, to_json
from tpulens.analyzer.compiled import is_edgetpu_op
from tpulens.analyzer.ground_truth import match_placement
from tpulens.analyzer.logs import parse_log_file
from tpulens.analyzer.model import read_model


@dataclass
class OpCheck:
    """One op's prediction next to the compiler's placement."""

    index: int
    opcode: str
    reason_code: str
    placement: str
    confidence: str
    truth: str

    @property
    def agrees(self) -> bool:
        return self.placement == self.truth


@dataclass
class PairResult:
    name: str
    compiler: str
    multiple_subgraphs: bool = False
    checks: list[OpCheck] = field(default_factory=list)
    log_checked: bool = False
    log_agrees: bool = True
    log_diff: str = ""
    log_ops: list[dict] = field(default_factory=list)  # predicted ops, when only a log exists

    @property
    def source(self) -> str:
        """The source folder (`pairs/<repo>@<commit>/...` -> `<repo>@<commit>`)."""
        return self.name.split("/")[1]

    @property
    def ops(self) -> int:
        return len(self.checks)

    @property
    def ops_agree(self) -> int:
        return sum(c.agrees for c in self.checks)

    @property
    def disagreements(self) -> list[str]:
        return [f"#{c.index} {c.opcode}: predicted {c.placement} ({c.reason_code}, "
                f"{c.confidence}), compiler {c.truth}" for c in self.checks if not c.agrees]

    @property
    def exact(self) -> bool:
        return self.ops == self.ops_agree and self.log_agrees


def _histogram(rows) -> Counter:
    counts: Counter = Counter()
    for operator, status, count in rows:
        counts[(operator, status)] += count
    return counts


def name_truth(cpu, compiled) -> dict:
    """The corpus's documented rule, by tensor names only: an op is on the CPU iff a non-Edge
    TPU op of the compiled model produces one of its output names. (`tpulens compare` also
    matches renamed ops by shape; the agreement figure keeps to the documented rule.)"""
    match = match_placement(cpu, compiled)
    by_shape = set(match.matched_by_shape)
    return {k: "TPU" if k in by_shape else v for k, v in match.placement.items()}


def check_pair(corpus: Path, row: dict) -> PairResult:
    cpu = read_model(corpus / row["cpu_model"])
    compiled = read_model(corpus / row["edgetpu_model"]) if row.get("edgetpu_model") else None
    multi = compiled is not None and sum(map(is_edgetpu_op, compiled.operators)) > 1
    analysis = to_json(analyze_model(cpu, make_options(row["compiler_version"], multi)))
    result = PairResult(row["cpu_model"], row["compiler_version"], multi)
    if compiled is not None:
        truth = name_truth(cpu, compiled)
        for op in analysis["ops"]:
            actual = truth.get((op["subgraph"], op["index"]))
            if actual is not None:
                result.checks.append(OpCheck(op["index"], op["opcode"], op["reason_code"],
                                             op["placement"], op["confidence"], actual))
    if row.get("log"):
        log = parse_log_file(corpus / row["log"])
        model_log = log.model_for(row["cpu_model"]) or (log.models[0] if log.models else None)
        if model_log is not None and model_log.rows:
            result.log_checked = True
            expected = _histogram((r.operator, r.status, r.count) for r in model_log.rows)
            predicted = _histogram((r["operator"], r["status"], r["count"])
                                   for r in analysis["table"])
            result.log_agrees = expected == predicted
            if not result.log_agrees:
                result.log_diff = (f"predicted extra {dict(predicted - expected)}, "
                                   f"missing {dict(expected - predicted)}")
            if compiled is None:
                result.log_ops = analysis["ops"]
    return result


def rows(corpus: Path) -> list[dict]:
    """PAIRS.tsv without the rows marked `exclude`."""
    with open(corpus / "PAIRS.tsv", newline="") as f:
        return [r for r in csv.DictReader(f, delimiter="\t")
                if not (r.get("caveat") or "").startswith("exclude")]


def measure(corpus: Path) -> list[PairResult]:
    return [check_pair(corpus, row) for row in rows(corpus)]


def summary(results: list[PairResult]) -> dict:
    ops = sum(r.ops for r in results)
    agree = sum(r.ops_agree for r in results)
    with_ops = [r for r in results if r.ops]
    logs = [r for r in results if r.log_checked]
    checks = [c for r in results for c in r.checks]
    high = [c for c in checks if c.confidence == "high"]
    low = [c for c in checks if c.confidence == "low"]
    return {
        "pairs": len(with_ops), "pairs_exact": sum(r.exact for r in with_ops),
        "ops": ops, "ops_agree": agree, "op_agreement": agree / ops if ops else 0.0,
        "pair_agreement": (sum(r.exact for r in with_ops) / len(with_ops)) if with_ops else 0.0,
        "logs": len(logs), "logs_agree": sum(r.log_agrees for r in logs),
        "high": len(high), "high_agree": sum(c.agrees for c in high),
        "low": len(low), "low_agree": sum(c.agrees for c in low),
    }


def render(results: list[PairResult]) -> str:
    s = summary(results)
    lines = [f"{'pair':<90} {'compiler':<16} {'ops':>5} {'agree':>6} log"]
    for r in results:
        log = ("-" if not r.log_checked else "ok" if r.log_agrees else "DIFF")
        lines.append(f"{r.name[-90:]:<90} {r.compiler:<16} {r.ops:>5} {r.ops_agree:>6} {log}")
        lines += [f"    {d}" for d in r.disagreements] + (
            [f"    log: {r.log_diff}"] if r.log_diff else [])
    lines.append(
        f"ops: {s['ops_agree']}/{s['ops']} ({s['op_agreement']:.2%}); exact pairs: "
        f"{s['pairs_exact']}/{s['pairs']} ({s['pair_agreement']:.2%}); logs equal: "
        f"{s['logs_agree']}/{s['logs']}; high confidence: {s['high_agree']}/{s['high']} agree, "
        f"low: {s['low_agree']}/{s['low']}")
    return "\n".join(lines)
