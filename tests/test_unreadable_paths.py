"""Folders and files the user may not read: one line each, never a traceback, and a batch gate
that does not pass a model it never saw (`setpriv` drops root's right to read anything)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

DROP = ["setpriv", "--bounding-set=-dac_override,-dac_read_search",
        "--inh-caps=-dac_override,-dac_read_search"]
MODEL = "pairs/test_data@086adea/mobilenet_v1_0.25_128_quant.tflite"


@pytest.fixture
def locked(corpus, tmp_path):
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to read as a user without rights")
    folder = tmp_path / "d"
    (folder / "locked").mkdir(parents=True)
    shutil.copy(corpus / MODEL, folder / "ok.tflite")
    shutil.copy(corpus / MODEL, folder / "locked" / "hidden.tflite")
    (folder / "locked" / "x.log").write_text("Edge TPU Compiler version 16.0.384591198\n")
    (folder / "locked").chmod(0)
    yield folder
    (folder / "locked").chmod(0o755)


def tpulens(folder, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*DROP, sys.executable, "-m", "tpulens.cli", *args], cwd=folder.parent,
                          capture_output=True, text=True, timeout=120)


def test_a_batch_with_an_unreadable_folder_reports_it_and_fails(locked):
    run = tpulens(locked, "analyze", "d", "--fail-on", "partial")
    assert run.returncode == 2
    assert run.stderr.strip() == \
        "tpulens analyze: error: d/locked: unreadable folder (Permission denied)"
    assert "d/ok.tflite" in run.stdout and "2 model(s): 1 full, 1 error" in run.stdout


@pytest.mark.parametrize("args", [("analyze", "d/locked"), ("analyze", "d/locked/hidden.tflite"),
                                  ("parse-log", "d/locked/x.log")])
def test_an_unreadable_path_is_one_line(locked, args):
    run = tpulens(locked, *args)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert "Permission denied" in run.stderr
