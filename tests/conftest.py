import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from tpulens.analyzer.ground_truth import CORPUS

ROOT = Path(__file__).resolve().parents[1]

sys.path.insert(0, str(Path(__file__).parent))  # the tflite_builder helper
# Units of work for the test workers, longest first, so that both workers stay busy to the end
# (xdist would hand out the units with the most tests first, which left the quick suite, few
# tests but the longest unit, for last). Files that share a costly session build (or one
# Chromium) form one unit: one worker builds it instead of the other waiting on its lock.
# The red-team file comes first: it limits the peak memory of the commands it starts, and a
# child's peak counts the memory of the process that started it (a worker that has converted
# ResNet50 gives its children 2 GB). Files not named here follow in their usual order.
GROUPS = (("red team round 3", ("test_redteam_round3.py",)),
          ("quick suite", ("test_runners_quick.py", "test_detection_pipeline.py")),
          ("toy suite", ("test_runners_pipeline.py", "test_runners_ray.py",
                         "test_history_pipeline.py")),
          ("cost latency", ("test_cost_latency.py",)),  # three TensorFlow conversions
          ("wheel", ("test_wheel.py",)),
          ("browser", ("test_report_browser.py", "test_report_history_browser.py",
                       "test_report_op_graph_browser.py", "test_report_op_groups_browser.py",
                       "test_report_site_browser.py")))


def group_rank(nodeid: str) -> tuple[int, str | None]:
    """(rank, group name) of a test: its group's place in GROUPS, or after every group."""
    file = Path(nodeid.split("::", 1)[0]).name
    for rank, (name, files) in enumerate(GROUPS):
        if file in files:
            return rank, name
    return len(GROUPS), None


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: group_rank(item.nodeid)[0])  # stable: files keep their order


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """--dist loadfile, with each group of GROUPS as one unit of work, handed out in the
    collection's order (GROUPS first)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class GroupedFiles(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_rank(nodeid)[1] or super()._split_scope(nodeid)

    config.option.loadscopereorder = False
    return GroupedFiles(config, log)


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
