"""A short run of the fuzz campaign (`make fuzz` runs the long one): the red team's mutation
strategies on corpus models and logs give no traceback and no hang."""

from __future__ import annotations

import random

import pytest
from committed import committed_results

from bench import fuzz
from tpulens.analyzer.model import model_from_bytes
from tpulens.errors import InputError


@pytest.fixture(scope="module")
def model_seeds(corpus):
    return fuzz.model_seeds(corpus)


@pytest.fixture(scope="module")
def log_seeds(corpus):
    return fuzz.log_seeds(corpus)


def test_mutated_models_never_crash_or_hang(model_seeds):
    counts = fuzz.run_campaign("models", range(1500), model_seeds, campaign_seed=13)
    assert (counts.crashes, counts.hangs) == (0, 0), counts.first_crashes
    # The mutations reach the analyzer, not only the reader's first checks.
    assert 0.2 < counts.refused / counts.runs < 0.9


def test_mutated_logs_never_crash_or_hang(log_seeds):
    counts = fuzz.run_campaign("logs", range(300), log_seeds, campaign_seed=13)
    assert (counts.crashes, counts.hangs) == (0, 0), counts.first_crashes


def test_shared_table_mutation_is_the_red_team_attack(model_seeds):
    rng = random.Random(5)
    refusals = []
    for _ in range(40):
        seed = rng.choice(model_seeds)
        data = fuzz.share_table(rng, seed, bytearray(seed.data))
        try:
            model_from_bytes(bytes(data), "shared.tflite")
        except InputError as err:
            refusals.append(str(err))
    assert sum("share one table" in r for r in refusals) >= 10


@pytest.mark.parametrize("mutation", fuzz.LOG_MUTATIONS, ids=lambda m: m.__name__)
def test_every_log_mutation_changes_the_text(log_seeds, mutation):
    rng = random.Random(3)
    assert any(mutation(rng, text) != text for text in log_seeds[:20])


def test_a_crash_is_counted_with_where_it_happened(model_seeds, monkeypatch):
    def broken(data):
        raise KeyError("boom")

    monkeypatch.setattr(fuzz, "check_model", broken)
    counts = fuzz.run_campaign("models", range(3), model_seeds)
    assert counts.crashes == 3 and "KeyError at test_fuzz.py" in counts.first_crashes[0][1]


def test_a_hang_is_counted(model_seeds, monkeypatch):
    def slow(data):
        while True:
            pass

    monkeypatch.setattr(fuzz, "check_model", slow)
    counts = fuzz.run_campaign("models", range(2), model_seeds, hang_seconds=0.2)
    assert counts.hangs == 2 and counts.crashes == 0


@pytest.fixture(scope="module")
def store_seeds(tmp_path_factory):
    """Seeds from the results as committed (never the working tree's, which `make report`
    rewrites)."""
    seeds = fuzz.store_seeds(committed_results(tmp_path_factory.mktemp("committed")))
    assert seeds, "the committed results hold no record with an analysis"
    return seeds


def test_mutated_results_stores_never_crash_or_hang_diff_or_the_report(store_seeds):
    counts = fuzz.run_campaign("stores", range(30), store_seeds, campaign_seed=13)
    assert (counts.crashes, counts.hangs) == (0, 0), counts.first_crashes
    assert counts.runs == 30


@pytest.mark.parametrize("attack", fuzz._FILE_ATTACKS)
def test_every_file_attack_builds_a_store_the_checks_survive(store_seeds, attack):
    plan = fuzz.mutate_store(random.Random(1), store_seeds[0])
    plan["attack"] = attack
    fuzz.check_store(plan)  # raises StoreCrash (a traceback in the child) or returns


def test_a_store_check_that_fills_the_memory_is_a_crash_not_an_oom(store_seeds, monkeypatch):
    def greedy(plan, top, full_site):
        return len(bytearray(2 * fuzz.STORE_MEMORY)) > 0  # more than a check may add

    monkeypatch.setattr(fuzz, "_check_store", greedy)
    counts = fuzz.run_campaign("stores", range(1), store_seeds)
    assert counts.crashes == 1 and "MemoryError" in counts.first_crashes[0][1]
