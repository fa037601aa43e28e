"""A short run of the fuzz campaign as `make fuzz` runs it (`python -m bench.fuzz`, small counts,
a fixed seed): mutated models, logs and results stores give no traceback and no hang, the
mutations reach past the readers' first checks, and a crash or a hang is counted when there is
one."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from committed import committed_results

REPO = Path(__file__).resolve().parents[1]
SUMMARY = re.compile(r"^(\w+): (\d+) runs \((\d+) refused with one line\), (\d+) crashes "
                     r"\(tracebacks\), (\d+) hangs", re.MULTILINE)


def fuzz(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench.fuzz", "--progress", "0", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=300)


def summary(run: subprocess.CompletedProcess) -> dict[str, dict[str, int]]:
    """Each kind's line of the summary as its counts."""
    return {kind: dict(zip(("runs", "refused", "crashes", "hangs"), map(int, counts), strict=True))
            for kind, *counts in SUMMARY.findall(run.stdout)}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Seeds from the results as committed (never the working tree's, which `make report`
    rewrites)."""
    return committed_results(tmp_path_factory.mktemp("committed"))


@pytest.fixture(scope="module")
def campaign(results):
    return fuzz("--models", "1500", "--logs", "300", "--stores", "40", "--seed", "13",
                "--results", str(results))


def test_a_short_campaign_finds_no_crash_and_no_hang(campaign):
    assert campaign.returncode == 0, campaign.stdout + campaign.stderr
    counts = summary(campaign)
    assert {kind: (c["runs"], c["crashes"], c["hangs"]) for kind, c in counts.items()} == {
        "models": (1500, 0, 0), "logs": (300, 0, 0), "stores": (40, 0, 0)}


def test_the_mutations_reach_past_the_readers_first_checks(campaign):
    counts = summary(campaign)
    assert 0.2 < counts["models"]["refused"] / counts["models"]["runs"] < 0.9
    # Most stores are read through by diff and the report; some are refused with one line.
    assert 0 < counts["stores"]["refused"] < counts["stores"]["runs"] / 2


def test_the_shared_table_attack_is_among_the_refusals(campaign):
    """The red team's shared_ops_*.tflite: later entries of a vector rewired to the first's
    table, which the reader refuses by name."""
    assert re.search(r"^  refused \d+ x .*share one table", campaign.stdout, re.MULTILINE)


def test_a_store_check_over_the_time_limit_is_a_hang_and_its_input_kept(results, tmp_path):
    run = fuzz("--models", "0", "--logs", "0", "--stores", "3", "--hang-seconds", "0.001",
               "--results", str(results), "--keep", str(tmp_path / "all"))
    assert run.returncode == 1
    assert summary(run)["stores"] == {"runs": 3, "refused": 0, "crashes": 0, "hangs": 3}
    kept = sorted(p.name for p in (tmp_path / "all").iterdir())
    assert kept == ["stores_0.json", "stores_1.json", "stores_2.json"]
    # Run i is the same input whether the campaign runs it or --only replays it alone.
    fuzz("--models", "0", "--logs", "0", "--stores", "3", "--only", "2", "--hang-seconds", "0.001",
         "--results", str(results), "--keep", str(tmp_path / "one"))
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["stores_2.json"]
    assert (tmp_path / "one" / "stores_2.json").read_bytes() == \
        (tmp_path / "all" / "stores_2.json").read_bytes()


def test_a_kept_store_replays(results, tmp_path):
    fuzz("--models", "0", "--logs", "0", "--stores", "1", "--hang-seconds", "0.001",
         "--results", str(results), "--keep", str(tmp_path))
    run = fuzz("--replay", str(tmp_path / "stores_0.json"), "--results", str(results))
    assert run.returncode == 0, run.stdout + run.stderr
    counts = summary(run)
    assert list(counts) == ["stores"]
    assert (counts["stores"]["runs"], counts["stores"]["crashes"], counts["stores"]["hangs"]) \
        == (1, 0, 0)


def test_a_store_check_over_its_memory_is_a_crash_not_an_oom(results, tmp_path):
    """A record of 15 MB (under the store's 16 MB limit) checked with 1 MB to spare."""
    record = {"experiment": "e", "variant": "v", "status": "ok", "metrics": {"accuracy": 0.5},
              "samples": [0] * 5_000_000}
    plan = {"record": json.dumps(record), "run": "{}", "analysis": "{}", "attack": None,
            "attack_seed": 1}
    (tmp_path / "big.json").write_text(json.dumps(plan))
    run = fuzz("--replay", str(tmp_path / "big.json"), "--store-memory-mb", "1",
               "--results", str(results))
    assert run.returncode == 1
    assert summary(run)["stores"]["crashes"] == 1
    assert re.search(r"^  run big.json: MemoryError at \w+\.py:\d+", run.stdout, re.MULTILINE)
