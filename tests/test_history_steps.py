"""Step detection over a metric's history, and the regressions it finds in a results store."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sample_results import SYNTHETIC_ENV, record, write

from tpulens.history import settings, steps, store


def test_an_exact_series_steps_wherever_it_changes():
    values = [100.0] * 5 + [120.0] * 3 + [110.0] * 2
    assert steps.fit_steps(values) == [steps.Segment(0, 5, 100.0), steps.Segment(5, 8, 120.0),
                                       steps.Segment(8, 10, 110.0)]
    assert steps.fit_steps([]) == [] and steps.fit_steps([3.0]) == [steps.Segment(0, 1, 3.0)]


def test_two_noisy_runs_are_not_a_step():
    assert len(steps.fit_steps([1.0, 1.07])) == 1


def calibration(n: int, step_sigmas: float, runs_after: int, trials: int = 500) -> float:
    """Share of seeded Gaussian series (σ = 1) of n runs whose fit puts a step exactly where a
    step of `step_sigmas` lasting `runs_after` runs starts; with step_sigmas 0, the share
    with any step at all."""
    rng = random.Random(7)
    hits = 0
    for _ in range(trials):
        values = [rng.gauss(0, 1) + (step_sigmas if i >= n - runs_after else 0.0)
                  for i in range(n)]
        found = [s.start for s in steps.fit_steps(values)[1:]]
        hits += bool(found) if step_sigmas == 0 else (n - runs_after) in found
    return hits / trials


def test_the_penalty_ignores_noise_and_finds_real_steps():
    assert calibration(20, 0, 0) < 0.04  # a step in pure noise: rare
    assert calibration(40, 0, 0) < 0.02
    assert calibration(20, 5, 3) > 0.9  # five σ, three runs long: found at the right run
    assert calibration(20, 10, 1) > 0.85  # ten σ in the newest run alone: mostly found


def synthetic_history(tmp_path, values: dict[str, list[float]], cpus: list[str] | None = None):
    """A results store with one run per value (commits c00, c01, …), one variant."""
    results = tmp_path / "results"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    n = len(next(iter(values.values())))
    for i in range(n):
        run = store.new_run(start + timedelta(days=i), f"c{i:02d}", False, "ci", "default")
        folder = store.run_dir(results, run.id)
        write(folder, store.RUN_FILE, run.to_json())
        data = record("quantization", "int8", {k: v[i] for k, v in values.items()})
        data["run"] = run.id
        data["environment"] = {**SYNTHETIC_ENV, "cpu": cpus[i] if cpus else "cpu"}
        write(folder, "quantization/int8.json", data)
        if i == n - 1:
            write(results, "quantization/int8.json", data)
    return store.load(results)


def test_a_known_step_is_a_regression_at_the_right_commit(tmp_path):
    rng = random.Random(3)
    latency = [round(2.0 * (1 + rng.gauss(0, 0.02)) * (1.3 if i >= 8 else 1), 4)
               for i in range(12)]
    accuracy = [0.91, 0.912, 0.909, 0.911, 0.91, 0.87, 0.872, 0.869, 0.871, 0.91, 0.911, 0.909]
    size = [82_000.0] * 12
    history = synthetic_history(tmp_path, {"latency_ms_p50": latency, "accuracy": accuracy,
                                           "size_bytes": size})
    found = steps.regressions(history.entries, settings.Settings())
    assert [(r.metric, r.last_good.git_commit, r.first_bad.git_commit, r.still_present)
            for r in found] == [("latency_ms_p50", "c07", "c08", True),
                                ("accuracy", "c04", "c05", False)]
    slow = found[0]  # the values of the records at those commits, not levels
    assert (slow.before, slow.after, slow.latest) == (latency[7], latency[8], latency[-1])
    assert slow.to_json()["first_bad"]["git_commit"] == "c08"


def test_noise_alone_is_no_regression(tmp_path):
    rng = random.Random(5)
    latency = [round(2.0 * (1 + rng.gauss(0, 0.03)), 4) for _ in range(15)]
    history = synthetic_history(tmp_path, {"latency_ms_p50": latency})
    assert steps.regressions(history.entries, settings.Settings()) == []


def test_timing_from_another_cpu_is_left_out(tmp_path):
    latency = [2.0] * 4 + [5.0] * 2  # the last two runs: a slower machine, same code
    history = synthetic_history(tmp_path, {"latency_ms_p50": latency},
                                cpus=["fast"] * 4 + ["slow"] * 2)
    assert steps.regressions(history.entries, settings.Settings()) == []
    history = synthetic_history(tmp_path / "same", {"latency_ms_p50": latency})
    found = steps.regressions(history.entries, settings.Settings())
    assert [r.first_bad.git_commit for r in found] == ["c04"]
