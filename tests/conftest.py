import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
sys.path.insert(0, str(Path(__file__).parent))  # the tflite_builder helper


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"Edge TPU ground-truth corpus not found at {CORPUS} (it sits beside the "
                    "checkout in CI; a plain clone does not have it)")
    return CORPUS


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (never a downloaded browser), one per module."""
    pytest.importorskip("playwright.sync_api")
    from tpulens.report.screenshots import CHROMIUM, chromium

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (make setup installs Debian's chromium)")
    with chromium() as b:
        yield b
@pytest.fixture(scope="session")
def quick_suite(tmp_path_factory):
    """The repository's benchmarks.toml, quick profile, built once per test run: test workers
    share one directory, the first builds it under a lock and the others find it up to date.
    Returns (root, suite path, run summary, {(experiment, variant): record})."""
    import fcntl
    import json

    from tpulens.runners import pipeline

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = shared / "quick-suite"
    suite = root / "benchmarks.toml"
    with open(shared / "quick-suite.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        root.mkdir(exist_ok=True)
        suite.write_text((ROOT / "benchmarks.toml").read_text())
        summary = pipeline.run_suite(suite, "quick", jobs=2, progress=False)
    records = {}
    for path in (root / "results").glob("*/*.json"):
        if path.parent.name not in ("analysis", "examples"):
            record = json.loads(path.read_text())
            records[record["experiment"], record["variant"]] = record
    return root, suite, summary, records
