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
