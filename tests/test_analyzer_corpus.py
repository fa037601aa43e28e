"""Agreement with the real Edge TPU compiler on the ground-truth corpus (../shared/corpus), the
evidence files generated from it, and how well the fitted limits carry across sources."""

import importlib.util
import re
from pathlib import Path

import agreement
import limits_fit
import pytest

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
        assert getattr(rules, limits_fit.THRESHOLDS[r.name]) == r.limit.threshold


def test_thresholds_fitted_on_other_sources_predict_each_source(corpus, capsys):
    """Leave one source folder out: refit every limit without it, predict it."""
    s = limits_fit.leave_one_source_out(corpus)["summary"]
    with capsys.disabled():
        print(f"\nleave one source out: ops {s['ops_agree']}/{s['ops']} "
              f"({s['op_agreement']:.2%}), items {s['pairs_exact']}/{s['pairs']} "
              f"({s['pair_agreement']:.2%}); high confidence {s['high_agree']}/{s['high']}, "
              f"low {s['low_agree']}/{s['low']}")
    assert s["op_agreement"] >= 0.98 and s["high_agree"] >= 0.999 * s["high"]


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
