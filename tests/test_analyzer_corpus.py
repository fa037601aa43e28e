"""Agreement with the real Edge TPU compiler on the ground-truth corpus (../shared/corpus), the
evidence files generated from it, and how well the fitted limits carry across sources."""

import importlib.util
import re
from pathlib import Path

import limits_fit
import pytest
from tflite_builder import Op, T, build

from tpulens.analyzer import corpus_agreement as agreement
from tpulens.analyzer import rules
from tpulens.analyzer.model import read_model

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "edgetpu-rules.md"


@pytest.fixture(scope="module")
def results(corpus):
    return agreement.measure(corpus)


def test_agreement_with_the_real_compiler(results, capsys):
    with capsys.disabled():
        print("\n" + agreement.render(results))
    s = agreement.summary(results)
    assert s["pairs"] >= 70 and s["logs"] >= 30
    assert s["op_agreement"] >= 0.995
    assert s["pair_agreement"] >= 0.97
    assert s["logs_agree"] == s["logs"], [r.log_diff for r in results if not r.log_agrees]


def test_high_confidence_verdicts_agree(results):
    s = agreement.summary(results)
    assert s["high"] > 0.9 * s["ops"]
    assert s["high_agree"] == s["high"], [d for r in results for d in r.disagreements
                                          if ", high)" in d]


def test_excluded_rows_and_multi_subgraph_models_are_handled(corpus, results):
    names = {r.name for r in results}
    assert not any("test_data@086adea/posenet" in n for n in names)
    multi = [r for r in results if r.multiple_subgraphs]
    assert multi and all(r.exact for r in multi)


def test_generated_corpus_evidence_is_in_sync(corpus):
    spec = importlib.util.spec_from_file_location("gen", ROOT / "tools" /
                                                  "gen_corpus_evidence.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    current = (ROOT / "analyzer" / "corpus_evidence.py").read_text()
    assert gen.render(corpus) == current, (
        "regenerate: .venv/bin/python tools/gen_corpus_evidence.py > "
        "analyzer/corpus_evidence.py")


def test_fitted_limits_are_the_corpus_boundaries(corpus):
    """Each measure's largest mapped and smallest refused value is what the corpus shows, and
    each threshold lies between the two."""
    points = limits_fit.evidence(corpus)
    for r in limits_fit.fitted_rules():
        lo, hi = limits_fit.envelope(points, r.name)
        assert (r.limit.largest_mapped, r.limit.smallest_refused) == (lo, hi), r.name
        assert (lo or 0) < r.limit.threshold < hi, r.name
        assert getattr(rules.tables, limits_fit.THRESHOLDS[r.name]) == r.limit.threshold


def test_a_compiler_log_places_the_op_types_it_gives_one_status(corpus):
    """Where a pair has both, the placements read from the log alone are the compiled model's."""
    placed = 0
    for row in agreement.rows(corpus):
        if not (row.get("edgetpu_model") and row.get("log")):
            continue
        cpu = read_model(corpus / row["cpu_model"])
        from_log = limits_fit.log_truth(corpus, row, cpu)
        compiled = agreement.name_truth(cpu, read_model(corpus / row["edgetpu_model"]))
        assert {k: compiled[k] for k in from_log} == from_log, row["cpu_model"]
        placed += len(from_log)
    assert placed > 500


LOG = """Edge TPU Compiler version 16.0.384591198
Input: m.tflite
Output: m_edgetpu.tflite

Operator                       Count      Status

{rows}
"""


@pytest.mark.parametrize(("rows", "placed"), [
    (["RELU 2 Mapped to Edge TPU", "LOGISTIC 1 Operation is otherwise supported, but not "
      "mapped due to some unspecified limitation"], {0: "TPU", 1: "TPU", 2: "CPU"}),
    (["RELU 1 Mapped to Edge TPU", "RELU 1 More than one subgraph is not supported",
      "LOGISTIC 1 Mapped to Edge TPU"], {2: "TPU"}),  # RELU split over two statuses
    (["RELU 1 Mapped to Edge TPU", "LOGISTIC 1 Mapped to Edge TPU"], {2: "TPU"}),  # 1 of 2
])
def test_a_log_places_only_types_with_one_status_counting_them_all(tmp_path, rows, placed):
    (tmp_path / "m.tflite").write_bytes(build(
        [T("x", (1, 4)), T("a", (1, 4)), T("b", (1, 4)), T("c", (1, 4))],
        [Op("RELU", ["x"], ["a"]), Op("RELU", ["a"], ["b"]), Op("LOGISTIC", ["b"], ["c"])]))
    (tmp_path / "m_edgetpu.log").write_text(LOG.format(rows="\n".join(
        f"{op:<31}{count:<11}{status}" for op, count, status in (r.split(" ", 2)
                                                                for r in rows))))
    row = {"cpu_model": "m.tflite", "log": "m_edgetpu.log"}
    truth = limits_fit.log_truth(tmp_path, row, read_model(tmp_path / "m.tflite"))
    assert truth == {(0, i): p for i, p in placed.items()}


def test_cpu_models_with_only_a_log_are_fitting_evidence(corpus):
    log_only = [r["cpu_model"] for r in agreement.rows(corpus)
                if r.get("log") and not r.get("edgetpu_model")]
    points = limits_fit.evidence(corpus)
    assert log_only and all(any(p.where.startswith(f"{path}#") for p in points)
                            for path in log_only)


def test_thresholds_fitted_on_other_sources_predict_each_source(corpus, capsys):
    """Leave one source folder out: refit every limit without it, predict it."""
    s = limits_fit.leave_one_source_out(corpus)["summary"]
    with capsys.disabled():
        print(f"\nleave one source out: ops {s['ops_agree']}/{s['ops']} "
              f"({s['op_agreement']:.2%}), items {s['pairs_exact']}/{s['pairs']} "
              f"({s['pair_agreement']:.2%}); high confidence {s['high_agree']}/{s['high']}, "
              f"low {s['low_agree']}/{s['low']}")
    assert s["ops_agree"] >= 3853 and s["ops"] == 3901 and s["high_agree"] == s["high"]


# ---- citations -------------------------------------------------------------------------------

def citations() -> list[tuple[str, str]]:
    return sorted({(r.name, c) for r in rules.RULES for c in r.evidence.citations})


@pytest.mark.parametrize(("rule", "citation"), citations())
def test_every_citation_resolves(rule, citation, corpus):
    doc = DOC.read_text()
    path, _, op = citation.partition("#")
    if path.startswith(("pairs/", "logs/", "cpu_with_log/")):
        assert (corpus / path).is_file(), citation
        if op:
            assert int(op) < len(read_model(corpus / path).subgraphs[0].operators), citation
    elif re.fullmatch(r"[\w.-]+/[\w.-]+", path):
        assert f"{path}#{op}" in doc, f"{citation} is not listed in {DOC.name}"
    else:
        assert f"`{path}`" in doc, f"source {path} is not defined in {DOC.name}"
