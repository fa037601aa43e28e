"""Agreement with the real Edge TPU compiler on the ground-truth corpus (../shared/corpus)."""

import agreement


def test_agreement_with_the_real_compiler(corpus, capsys):
    results = agreement.measure(corpus)
    with capsys.disabled():
        print("\n" + agreement.render(results))
    s = agreement.summary(results)
    assert s["pairs"] >= 50 and s["logs"] >= 30
    assert s["op_agreement"] >= 0.99
    assert s["pair_agreement"] >= 0.95
    assert s["logs_agree"] == s["logs"], [r.log_diff for r in results if not r.log_agrees]
