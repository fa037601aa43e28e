"""The wheel a user installs from PyPI: built from this tree, installed non-editable into a fresh
virtual environment with only the [report] extra, and used from outside the repository."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# One worker builds and installs the wheel once (the build writes build/ in the tree).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(bin dir, a working directory outside the repo, the wheel) of a fresh non-editable
    install. pip reuses its cache, so this works offline once the dependencies were seen.
    This environment's pip installs into the new one (no pip of its own to bootstrap), and
    modules are compiled when imported rather than all at install (plotly has thousands)."""
    root = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(root / "dist"), str(REPO)], check=True, capture_output=True)
    wheel = next((root / "dist").glob("tpulens-*.whl"))
    venv.create(root / "venv", with_pip=False)
    bin_dir = root / "venv" / "bin"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "install",
                    "-q", "--no-compile", f"{wheel}[report]"], check=True, capture_output=True)
    work = root / "work"
    work.mkdir()
    return bin_dir, work, wheel


def tpulens(installed, *args: str) -> subprocess.CompletedProcess:
    bin_dir, work, _ = installed
    return subprocess.run([str(bin_dir / "tpulens"), *args], cwd=work, capture_output=True,
                          text=True, timeout=300)


def test_only_the_tpulens_namespace_is_installed(installed):
    _, _, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"tpulens"}
    assert "tpulens/templates/base.html" in names and "tpulens/benchmarks.toml" in names
    assert not [n for n in names if "sample_results" in n or "bench" in n.split("/")[-1]
                and n.endswith(".py") or "/tests/" in n or "conftest" in n]


@pytest.mark.parametrize("name", ["analyzer", "report", "runners", "bench", "tests"])
def test_generic_top_level_names_are_not_importable(installed, name):
    bin_dir, work, _ = installed
    probe = subprocess.run([str(bin_dir / "python"), "-c", f"import {name}"], cwd=work,
                           capture_output=True, text=True)
    assert probe.returncode != 0 and "No module named" in probe.stderr


def test_version(installed):
    out = tpulens(installed, "--version")
    assert out.returncode == 0 and out.stdout.startswith("tpulens 0.")


def test_analyze_a_corpus_model(installed, corpus):
    model = corpus / "pairs/EdgeTPU_Analysis/InOut/model_padding/model_padding_2x2x3.tflite"
    out = tpulens(installed, "analyze", str(model))
    assert out.returncode == 0, out.stderr
    assert "Number of operations that will run on Edge TPU: 1" in out.stdout


def test_report_on_the_committed_results(installed):
    _, work, _ = installed
    out = tpulens(installed, "report", "--results", str(REPO / "results"), "--out", "site")
    assert out.returncode == 0, out.stderr
    assert (work / "site" / "index.html").is_file()
    assert (work / "site" / "assets" / "style.css").is_file()


def test_run_check_falls_back_to_the_shipped_suite(installed):
    out = tpulens(installed, "run", "--check", "--profile", "quick")
    assert out.returncode == 0, out.stderr
    assert "benchmarks.toml: valid" in out.stdout


def test_run_without_the_runners_extra_is_one_line(installed):
    out = tpulens(installed, "run", "--profile", "quick", "--no-progress")
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0
    assert "pip install 'tpulens[runners]'" in out.stderr


def test_diff_without_the_diff_extra_is_one_line(installed):
    """scipy judges latency noise; a [report]-only install is told which extra to add."""
    _, work, _ = installed
    (work / "base").mkdir(exist_ok=True)
    out = tpulens(installed, "diff", "base", "base")
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0
    assert "pip install 'tpulens[diff]'" in out.stderr and "scipy" in out.stderr


def test_analysis_only_site_outside_the_repository(installed, corpus):
    """The README recipe for one's own model, with no results/ anywhere near."""
    _, work, _ = installed
    model = corpus / "pairs/EdgeTPU_Analysis/InOut/model_padding/model_padding_2x2x3.tflite"
    (work / "m.tflite").write_bytes(model.read_bytes())
    analysis = tpulens(installed, "analyze", "m.tflite", "--json")
    assert analysis.returncode == 0, analysis.stderr
    (work / "m.json").write_text(analysis.stdout)
    out = tpulens(installed, "report", "--analysis", "m.json", "--out", "mine")
    assert out.returncode == 0 and not out.stderr, out.stderr
    assert (work / "mine" / "models" / "m.html").is_file()
    assert (work / "mine" / "models" / "m.tflite").read_bytes() == model.read_bytes()
