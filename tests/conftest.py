import os
import shutil
import sys
from contextlib import contextmanager
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


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (never a downloaded browser), one per test
    worker."""
    pytest.importorskip("playwright.sync_api")
    from tpulens.report.screenshots import CHROMIUM, chromium

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (make setup installs Debian's chromium)")
    with chromium() as b:
        yield b
def shared_dir(tmp_path_factory) -> Path:
    """One directory for every test worker of this run (xdist workers each get a subfolder of
    the run's base temp; a plain run gets the base temp itself)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def built_once(path: Path):
    """Hold `path`.lock while building what it names: the first worker builds, the others
    wait for it and find it done."""
    import fcntl

    with open(f"{path}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="session")
def quick_suite(tmp_path_factory):
    """The repository's benchmarks.toml, quick profile, built once per test run: test workers
    share one directory, the first builds it under a lock and the others find it up to date.
    Returns (root, suite path, run summary, {(experiment, variant): record})."""
    import json

    from tpulens.runners import pipeline

    shared = shared_dir(tmp_path_factory)
    root = shared / "quick-suite"
    suite = root / "benchmarks.toml"
    with built_once(root):
        root.mkdir(exist_ok=True)
        suite.write_text((ROOT / "benchmarks.toml").read_text())
        summary = pipeline.run_suite(suite, "quick", jobs=2, progress=False)
    records = {}
    for path in (root / "results").glob("*/*.json"):
        if path.parent.name not in ("analysis", "examples"):
            record = json.loads(path.read_text())
            records[record["experiment"], record["variant"]] = record
    return root, suite, summary, records


@pytest.fixture(scope="session")
def toy_suite(tmp_path_factory):
    """The toy suite (tests/toy_suite.py) run once per test run from an empty cache, shared by
    the test workers; no test changes it: tests work on copies (`toy_suite.copy_toy`).
    Returns (root, summary of that first run)."""
    import dataclasses
    import json

    from toy_suite import write_suite

    from tpulens.runners import pipeline

    root = shared_dir(tmp_path_factory) / "toy-suite"
    first = root.parent / "toy-suite.summary.json"
    with built_once(root):
        if not first.exists():
            shutil.rmtree(root, ignore_errors=True)  # half built by a worker that crashed
            summary = pipeline.run_suite(write_suite(root), "quick", jobs=2, progress=False)
            first.write_text(json.dumps(dataclasses.asdict(summary)))
    return root, pipeline.RunSummary(**json.loads(first.read_text()))
