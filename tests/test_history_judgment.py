"""One judgment: the two committed runs of the default suite (an hour apart on one machine)
differ by a machine shift, not by 45 regressions; a real regression still fails; and the site's
Regressions page gives the verdicts `tpulens diff` gives on the same pair of runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from committed import committed_results
from sample_results import record, write

from tpulens.cli import main
from tpulens.history import store
from tpulens.history.settings import Settings
from tpulens.report.load import load_results
from tpulens.report.timeline import timeline_of

VARIANT = "quantization/int8_int8_io"


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    return committed_results(tmp_path_factory.mktemp("committed"))


@pytest.fixture(autouse=True)
def _no_suite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the built-in thresholds, not a suite's


def run_folder(results: Path, commit: str) -> Path:
    (folder,) = (results / "history").glob(f"*-{commit}")
    return folder


def diff(capsys, base: Path, head: Path, fmt: str = "text") -> tuple[int, str]:
    code = main(["diff", str(base), str(head), "--format", fmt])
    return code, capsys.readouterr().out


def edit(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def slower(factor: float):
    def change(data: dict) -> None:
        for name in data["metrics"]:
            if name.startswith("latency_ms_"):
                data["metrics"][name] *= factor
        kept = data.get("samples", {}).get("latency_ms", [])
        kept[:] = [v * factor for v in kept]
    return change


def less_accurate_and_slower(data: dict) -> None:
    data["metrics"]["accuracy"] -= 0.05
    slower(1.5)(data)


def test_the_committed_runs_differ_by_the_machine_not_by_regressions(capsys, results):
    base, head = run_folder(results, "496052c"), run_folder(results, "22f7117")
    code, text = diff(capsys, base, head)
    assert code == 0 and text.startswith("tpulens diff: no regressions, 1 finding(s)")
    _, markdown = diff(capsys, base, head, "markdown")
    code, raw = diff(capsys, base, head, "json")
    result = json.loads(raw)
    (shift,) = result["machine_shifts"]
    assert shift["samples"] == "latency_ms" and shift["moved"] >= 2 / 3 * shift["compared"]
    assert text.count(shift["finding"]) == 1 and markdown.count(shift["finding"]) == 1
    assert text.count("host latency shifted") == markdown.count("host latency shifted") == 1
    timing = [m for v in result["variants"] for m in v["metrics"]
              if m["metric"].startswith("latency_ms_")]
    assert timing and all(m["change"] == "not judged" and m["covered"] for m in timing)
    assert not result["regressed"] and not any(v["regressed"] for v in result["variants"])
    assert [n for v in result["variants"] for n in v["notes"]] == []  # analyses read, too
    assert all(v["placement_source"] for v in result["variants"] if v["variant"] != "keras")


def test_a_real_regression_across_the_machine_shift_still_fails_and_is_named(capsys, results,
                                                                             tmp_path):
    base = run_folder(results, "496052c")
    head = tmp_path / "head"
    shutil.copytree(run_folder(results, "22f7117"), head)
    edit(head / f"{VARIANT}.json", less_accurate_and_slower)
    code, text = diff(capsys, base, head)
    assert code == 1
    assert text.startswith("tpulens diff: 1 regression(s) in 1 variant(s), 1 finding(s)")
    regressions = text.split("Regressions:\n")[1].split("\n\n")[0].splitlines()
    assert regressions == [regressions[0]] and regressions[0].startswith(f"  {VARIANT}  accuracy")


def test_in_one_job_a_slower_variant_is_judged_on_its_samples(capsys, results, tmp_path):
    base = run_folder(results, "22f7117")
    head = tmp_path / "head"
    shutil.copytree(base, head)
    edit(head / f"{VARIANT}.json", slower(1.5))
    code, raw = diff(capsys, base, head, "json")
    result = json.loads(raw)
    assert code == 1 and result["machine_shifts"] == [] and result["findings"] == []
    worse = {(v["variant"], m["metric"]) for v in result["variants"] for m in v["metrics"]
             if m["change"] == "worse"}
    assert ("int8_int8_io", "latency_ms_p50") in worse
    assert {variant for variant, _ in worse} == {"int8_int8_io"}


def pair_store(results: Path, dest: Path, base: str, head: str, edits: dict) -> tuple[Path,
                                                                                      Path]:
    """A results store holding two runs only (head's records on top), `edits` applied to head's
    records; returns the two run folders."""
    shutil.copytree(results, dest)
    for folder in (dest / "history").iterdir():
        if folder.is_dir() and not folder.name.endswith((f"-{base}", f"-{head}")):
            shutil.rmtree(folder)
    head_folder = run_folder(dest, head)
    for variant, change in edits.items():
        edit(head_folder / f"{variant}.json", change)
        edit(dest / f"{variant}.json", change)
    return run_folder(dest, base), head_folder


def page_and_diff(capsys, base: Path, head: Path, results: Path) -> tuple[set, set]:
    timeline = timeline_of(load_results(results), Settings())
    page = {(f"{g.experiment}/{g.variant}", g.metric, g.before, g.after)
            for g in timeline.regressions if g.first_bad.id == head.name}
    _, raw = diff(capsys, base, head, "json")
    found = {(f"{v['experiment']}/{v['variant']}", m["metric"], m["base"], m["head"])
             for v in json.loads(raw)["variants"] for m in v["metrics"] if m["change"] == "worse"}
    return page, found


def test_the_regressions_page_and_diff_agree_across_a_machine_shift(capsys, results, tmp_path):
    base, head = pair_store(results, tmp_path / "store", "496052c", "22f7117",
                            {VARIANT: less_accurate_and_slower})
    page, found = page_and_diff(capsys, base, head, tmp_path / "store")
    assert page == found and {(v, m) for v, m, _, _ in found} == {(VARIANT, "accuracy")}
    before = json.loads((base / f"{VARIANT}.json").read_text())["metrics"]["accuracy"]
    assert {b for _, _, b, _ in page} == {before}  # the last good record's value


def test_the_regressions_page_and_diff_agree_within_one_machine(capsys, results, tmp_path):
    dest = tmp_path / "store"
    shutil.copytree(results, dest)
    old = dest / "history" / store.load(dest).latest_run.id  # the run the records are from
    new_id = "29991231T000000Z-0000001"
    shutil.copytree(old, dest / "history" / new_id)
    for folder in (dest / "history").iterdir():
        if folder.is_dir() and folder.name not in (old.name, new_id):
            shutil.rmtree(folder)
    new = dest / "history" / new_id
    for path in [*new.glob("*/*.json"), *dest.glob("*/*.json")]:
        if path.parent.name != "analysis":
            edit(path, lambda data: data.update(run=new_id))
    edit(new / "run.json", lambda data: data.update(id=new_id, git_commit="0000001"))
    for variant, change in ((VARIANT, slower(1.5)),
                            ("quantization/float16", less_accurate_and_slower)):
        edit(new / f"{variant}.json", change)
        edit(dest / f"{variant}.json", change)
    page, found = page_and_diff(capsys, old, new, dest)
    assert page == found
    assert {(VARIANT, "latency_ms_p50"), ("quantization/float16", "accuracy")} <= \
        {(v, m) for v, m, _, _ in found}
    assert store.load(dest).latest_run.id == new_id


def test_predicted_edge_tpu_figures_are_judged_exactly_whatever_the_machine(capsys, tmp_path):
    """Four variants 20 % slower on the host (a machine shift) and one whose predicted Edge TPU
    latency rose by 1 %: the prediction has no noise, so that 1 % is the regression."""
    predicted = {"unit": "ms", "better": "lower", "source": "predicted"}
    for side, factor in (("base", 1.0), ("head", 1.2)):
        for i in range(4):
            data = record("e", f"v{i}", {"latency_ms_p50": 2.0 * factor, "accuracy": 0.9})
            estimate = 3.0 * (1.01 if side == "head" and i == 0 else 1.0)
            data["metrics"]["edgetpu_est_latency_ms_usb3"] = estimate
            data["metric_info"]["edgetpu_est_latency_ms_usb3"] = predicted
            write(tmp_path / side, f"e/v{i}.json", data)
    code, raw = diff(capsys, tmp_path / "base", tmp_path / "head", "json")
    result = json.loads(raw)
    assert code == 1 and len(result["machine_shifts"]) == 1
    verdicts = {(v["variant"], m["metric"]): m for v in result["variants"] for m in v["metrics"]}
    assert verdicts["v0", "edgetpu_est_latency_ms_usb3"]["change"] == "worse"
    assert verdicts["v0", "edgetpu_est_latency_ms_usb3"]["threshold"] == "±0"
    assert {verdicts[f"v{i}", "latency_ms_p50"]["change"] for i in range(4)} == {"not judged"}
    assert {verdicts[f"v{i}", "edgetpu_est_latency_ms_usb3"]["change"] for i in range(1, 4)} \
        == {"unchanged"}
