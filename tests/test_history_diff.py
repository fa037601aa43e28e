"""`tpulens diff` on the committed results, on edited copies of them, and on latency samples
measured here with LiteRT."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from committed import committed_results
from sample_results import MAPPED, UNSUPPORTED, chain_analysis, op, record, write

from tpulens.analyzer.vocabulary import Change
from tpulens.cli import main
from tpulens.history import store
from tpulens.history.diff import Diff, MetricChange, VariantDiff
from tpulens.history.render import markdown

VARIANT = "quantization/int8_int8_io"


def diff(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["diff", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """The committed results (read only: tests that edit copy them)."""
    return committed_results(tmp_path_factory.mktemp("committed"))


@pytest.fixture(autouse=True)
def _no_suite(tmp_path, monkeypatch):
    """Run where no benchmarks.toml is, so the built-in thresholds apply."""
    monkeypatch.chdir(tmp_path)


def edit(results: Path, variant: str, change) -> None:
    path = results / f"{variant}.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def slower(data: dict, factor: float) -> None:
    """Every latency and the samples behind it `factor` times longer."""
    for name in list(data["metrics"]):
        if name.startswith("latency_ms_"):
            data["metrics"][name] *= factor
    kept = data.get("samples", {}).get("latency_ms", [])
    kept[:] = [v * factor for v in kept]


def slower_and_less_accurate(data: dict) -> None:
    data["metrics"]["accuracy"] -= 0.05
    slower(data, 1.5)


def variant_count(results: Path) -> int:
    return len(store.load(results).latest())


def test_identical_result_sets_exit_0(capsys, tmp_path, results):
    shutil.copytree(results, tmp_path / "copy")
    code, out, _ = diff(capsys, results, tmp_path / "copy")
    assert code == 0
    assert out.startswith("tpulens diff: no regressions")
    assert f"{variant_count(results)} variants compared" in out


def test_less_accurate_and_slower_variant_exits_1_named_in_a_markdown_table(capsys, tmp_path,
                                                                          results):
    head = tmp_path / "head"
    shutil.copytree(results, head)
    edit(head, VARIANT, slower_and_less_accurate)
    code, out, _ = diff(capsys, results, head, "--format", "markdown")
    assert code == 1
    assert re.match(r"### ❌ tpulens diff: [2-5] regression\(s\) in 1 variant\(s\)", out)
    table = out.split("**Regressions**")[1].split("\n\n")[1].splitlines()
    assert table[0].startswith("| variant | metric | base | head | change |")
    rows = [[c.strip() for c in re.split(r"(?<!\\)\|", line.strip("|"))] for line in table[2:]]
    worse = {(r[0], r[1], r[7]) for r in rows}
    # p90, p99 and the mean are judged on their own samples: a tail may not be significant
    assert {(f"` {VARIANT} `", "` latency_ms_p50 (ms) `", "**worse**"),
            (f"` {VARIANT} `", "` accuracy (fraction) `", "**worse**")} <= worse
    assert {r[0] for r in rows} == {f"` {VARIANT} `"}
    assert rows[0][1].startswith("` latency_ms_") and "(+50.0%)" in rows[0][4]  # worst first
    base = json.loads((results / f"{VARIANT}.json").read_text())["metrics"]["accuracy"]
    assert f"({-0.05 / base:+.1%})" in rows[-1][4]  # 0.05 less, relative to the base
    assert all(" of 200 vs 200 samples" in r[8] for r in rows if "latency" in r[1])
    assert f"{variant_count(results) - 1} variant(s) with every metric unchanged" in out


def test_missing_directory_exits_2_with_one_line(capsys, tmp_path, results):
    code, out, err = diff(capsys, results, tmp_path / "nope")
    assert code == 2 and out == ""
    assert err.splitlines() == [f"tpulens diff: error: {tmp_path / 'nope'}: no such directory"]


def test_directory_without_records_and_broken_record_exit_2(capsys, tmp_path, results):
    (tmp_path / "empty").mkdir()
    code, _, err = diff(capsys, results, tmp_path / "empty")
    assert code == 2 and "no result records" in err and len(err.splitlines()) == 1
    broken = tmp_path / "broken"
    shutil.copytree(results, broken)
    (broken / "zoo" / "mltk_resnet8_cifar10.json").write_text("{not json")
    code, _, err = diff(capsys, results, broken)
    assert code == 2 and len(err.splitlines()) == 1
    assert "zoo/mltk_resnet8_cifar10.json: unreadable" in err


def measured_samples(slower_ops: int | None, rounds: int = 50) -> tuple[list, list]:
    """Latency samples of an 8-ADD float model (base) and of the same model again, or of one
    with `slower_ops` ADDs (head), taken in short alternating rounds so that both see the same
    load on this machine (a shared machine's load changes within seconds)."""
    pytest.importorskip("ai_edge_litert")
    from ai_edge_litert.interpreter import Interpreter
    from tflite_builder import Op, T, build

    from tpulens.runners.stages.evaluate import latency

    def chain(n: int) -> bytes:
        shape = (1, 64, 64, 16)
        tensors = [T("x", shape, "FLOAT32", scale=None)]
        tensors += [T(f"t{i}", shape, "FLOAT32", scale=None) for i in range(n)]
        return build(tensors, [Op("ADD", ["x" if i == 0 else f"t{i - 1}", "x"], [f"t{i}"],
                                  options_type="AddOptions") for i in range(n)])

    interpreters = [Interpreter(model_content=chain(n), num_threads=1)
                    for n in (8, slower_ops or 8)]
    samples: tuple[list, list] = ([], [])
    for interpreter in interpreters:
        interpreter.allocate_tensors()
    for _ in range(rounds):
        for interpreter, kept in zip(interpreters, samples, strict=True):
            kept.extend(latency(interpreter, 1, 4)[1])
    return samples


def timed_record(variant: str, samples: list[float]) -> dict:
    import statistics

    data = record("timing", variant, {"latency_ms_p50": statistics.median(samples)})
    data["samples"] = {"latency_ms": samples}
    return data


def latency_verdict(capsys, tmp_path, base_samples, head_samples) -> dict:
    write(tmp_path / "base", "timing/adds.json", timed_record("adds", base_samples))
    write(tmp_path / "head", "timing/adds.json", timed_record("adds", head_samples))
    code, out, _ = diff(capsys, tmp_path / "base", tmp_path / "head", "--format", "json")
    (metric,) = json.loads(out)["variants"][0]["metrics"]
    assert code == (1 if metric["change"] == "worse" else 0)
    return metric


def test_ordinary_latency_jitter_is_unchanged(capsys, tmp_path):
    base, head = measured_samples(None)
    metric = latency_verdict(capsys, tmp_path, base, head)
    assert metric["change"] == "unchanged", metric


def test_a_real_slowdown_is_worse(capsys, tmp_path):
    base, head = measured_samples(12)  # 12 ADDs instead of 8: about 50 % slower
    metric = latency_verdict(capsys, tmp_path, base, head)
    assert metric["change"] == "worse", metric
    assert metric["relative"] > 0.25 and metric["p_value"] < 0.001
    assert metric["note"] == "p50 of 200 vs 200 samples"


def test_a_shift_within_the_threshold_is_unchanged_even_when_significant(capsys, tmp_path):
    base = [1.0 + 0.001 * (i % 10) for i in range(200)]
    head = [v * 1.05 for v in base]  # 5 % slower on every sample: significant, but small
    metric = latency_verdict(capsys, tmp_path, base, head)
    assert metric["change"] == "unchanged" and metric["p_value"] is None  # no test needed


def test_latency_from_another_cpu_is_not_judged(capsys, tmp_path, results):
    head = tmp_path / "head"
    shutil.copytree(results, head)

    def moved(data):
        slower_and_less_accurate(data)
        data["environment"]["cpu"] = "Some Other CPU"

    edit(head, VARIANT, moved)
    code, out, _ = diff(capsys, results, head, "--format", "json")
    result = json.loads(out)
    metrics = {m["metric"]: m for v in result["variants"] for m in v["metrics"]
               if f"{v['experiment']}/{v['variant']}" == VARIANT}
    assert code == 1  # the accuracy loss still counts
    assert metrics["latency_ms_p50"]["change"] == "not judged"
    assert metrics["latency_ms_p50"]["note"] == "timing not judged: measured with a different cpu"
    assert result["findings"] == [{"finding": metrics["latency_ms_p50"]["note"], "rows": 4}]
    assert metrics["accuracy"]["change"] == "worse"
    cpu = next(e for e in result["environment"] if e["key"] == "cpu")
    latest = store.load(results).latest().values()
    committed = sorted({e.record["environment"]["cpu"] for e in latest})
    assert cpu["base"] == committed and cpu["head"] == sorted([*committed, "Some Other CPU"])


def test_ops_that_moved_to_the_cpu_with_status_and_root_cause(capsys, tmp_path):
    base_ops = [op(i, "CONV_2D", "TPU", MAPPED) for i in range(4)]
    head_ops = [op(0, "CONV_2D", "TPU", MAPPED), op(1, "MEAN", "CPU", UNSUPPORTED,
                                                        "UNSUPPORTED_OP", name="t1"),
                op(2, "CONV_2D", "CPU", "More than one subgraph is not supported",
                   "AFTER_PARTITION", root_cause=1),
                op(3, "CONV_2D", "CPU", "More than one subgraph is not supported",
                   "AFTER_PARTITION", root_cause=1)]
    for side, ops, cpu in (("base", base_ops, 0), ("head", head_ops, 3)):
        metrics = {"edgetpu_ops_tpu": 4 - cpu, "edgetpu_ops_cpu": cpu}
        write(tmp_path / side, "m/int8.json", record("m", "int8", metrics,
                                                      analysis="analysis/m-int8.json"))
        write(tmp_path / side, "analysis/m-int8.json", chain_analysis("x", 0) | {
            "ops": ops})
    code, out, _ = diff(capsys, tmp_path / "base", tmp_path / "head")
    assert code == 1
    assert "m/int8: 3 op(s) moved to the CPU (predicted)" in out
    assert "op 1 MEAN TPU → CPU: Operation not supported\n" in out
    assert ("op 2 CONV_2D TPU → CPU: More than one subgraph is not supported "
            "(root cause: op 1 MEAN: Operation not supported)") in out
    assert "edgetpu_ops_cpu: 0 → 3" in out and "edgetpu_ops_tpu: 4 → 1" in out


def test_ops_are_matched_by_output_name_across_schema_1_and_2():
    """Schema 1 also wrote an op's output names as `outputs`; schema 2 only in output_tensors.
    A base of one and a head of the other still match each op by its first output's name."""
    from tpulens.history.diff import moved_ops

    def conv(i: int, placement: str) -> dict:
        status, reason = (MAPPED, "MAPPED") if placement == "TPU" else (UNSUPPORTED,
                                                                       "UNSUPPORTED_OP")
        return op(i, "CONV_2D", placement, status, reason, name=f"conv{i}")

    base = [conv(0, "TPU"), conv(1, "CPU"), conv(2, "TPU")]
    for o in base:  # as schema 1 wrote them
        o["outputs"] = [o.pop("output_tensors")[0]["name"]]
    head = [conv(1, "CPU"), conv(0, "TPU"), conv(2, "CPU")]  # reordered: names pair them
    moved = moved_ops({"schema_version": 1, "ops": base}, {"schema_version": 2, "ops": head})
    assert [(m.index, m.output, m.base_placement, m.head_placement) for m in moved] == [
        (2, "conv2", "TPU", "CPU")]


def test_added_and_removed_variants_and_a_failed_variant(capsys, tmp_path):
    for side, names in (("base", ("a", "b", "gone")), ("head", ("a", "b", "new"))):
        for name in names:
            write(tmp_path / side, f"e/{name}.json", record("e", name, {"size_bytes": 100}))
    write(tmp_path / "head", "e/b.json",
          record("e", "b", status="failed", notes=["failed: out of memory"]))
    code, out, _ = diff(capsys, tmp_path / "base", tmp_path / "head", "--format", "markdown")
    assert code == 1
    assert "| ` e/b ` | ` ok ` | ` failed ` | ` status ok → failed: failed: out of memory; " \
           "only in base: size_bytes ` |" in out
    assert "**Variants added**\n\n- ` e/new `" in out
    assert "**Variants removed**\n\n- ` e/gone `" in out


def test_thresholds_come_from_the_suite(capsys, tmp_path, results):
    head = tmp_path / "head"
    shutil.copytree(results, head)
    edit(head, VARIANT, lambda d: d["metrics"].update(accuracy=d["metrics"]["accuracy"] - 0.05))
    suite = tmp_path / "suite.toml"
    suite.write_text("[diff.thresholds]\n\"accuracy*\" = { absolute = 0.1 }\n")
    code, out, _ = diff(capsys, results, head, "--config", suite)
    assert code == 0 and "no regressions" in out
    suite.write_text("[diff.thresholds]\naccuracy = { relative = -1 }\n")
    code, _, err = diff(capsys, results, head, "--config", suite)
    assert code == 2
    assert err.strip() == (f"tpulens diff: error: {suite}: diff.thresholds.accuracy: expected "
                           "a number of at least 0, got -1")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          cwd=cwd, check=True, capture_output=True, text=True).stdout


def test_git_ref_reads_the_committed_results_without_a_checkout(capsys, tmp_path, monkeypatch,
                                                               results):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    shutil.copytree(results, repo / "results")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "results")
    edit(repo / "results", VARIANT, slower_and_less_accurate)
    monkeypatch.chdir(repo)
    code, out, _ = diff(capsys, "--git", "main", "results", "results")
    assert code == 1 and " regression(s) in 1 variant(s)" in out
    assert f"{VARIANT}  accuracy: " in out and f"{VARIANT}  latency_ms_p50: " in out
    base_line = next(line for line in out.splitlines() if line.startswith("base: "))
    assert base_line.startswith("base: results at main (")
    assert store.load(results).latest_run.git_commit in base_line
    assert git(repo, "status", "--porcelain") == " M results/quantization/int8_int8_io.json\n"
    code, _, err = diff(capsys, "--git", "no-such-ref", "results", "results")
    assert code == 2 and len(err.splitlines()) == 1 and "no-such-ref" in err


def test_foreign_records_and_analyses_do_not_break_the_diff(capsys, tmp_path):
    odd_ops = [{"subgraph": [1], "index": "x", "outputs": 5, "placement": "TPU"}, 7,
               {"opcode": None, "outputs": [None], "placement": "CPU", "root_cause": "op 1"}]
    for side, ops in (("base", 5), ("head", odd_ops)):
        data = record("e", "v", {"accuracy": 0.9, "size_bytes": 100},
                      analysis="analysis/e-v.json")
        data.update(metrics={"accuracy": "high", "size_bytes": float("nan"), "ok": 1},
                    samples={"latency_ms": ["fast", None]}, notes="none", environment=[1])
        write(tmp_path / side, "e/v.json", data)
        write(tmp_path / side, "analysis/e-v.json", {"ops": ops})
    code, out, _ = diff(capsys, tmp_path / "base", tmp_path / "head", "--format", "json")
    assert code == 0
    assert json.loads(out)["variants"][0]["metrics"][0]["metric"] == "ok"


def synthetic_diff(variants: int, metrics: int) -> Diff:
    """Every variant worse on half its metrics and unchanged on the rest."""
    def change(i: int) -> MetricChange:
        worse = i % 2 == 0
        return MetricChange(f"metric_{i}", "ms", "lower", 10.0, 20.0 if worse else 10.0,
                            Change.WORSE if worse else Change.UNCHANGED, "±10 %")

    return Diff("base", "head", ["abc"], ["def"],
                [VariantDiff("experiment", f"variant_{v:03}", "ok", "ok",
                             [change(i) for i in range(metrics)]) for v in range(variants)],
                added=[], removed=[], environment=[])


def test_markdown_detail_lists_only_the_changed_metrics():
    out = markdown(synthetic_diff(1, 4))
    detail = out.split("#### ` experiment/variant_000 `")[1]
    assert "metric_0" in detail and "metric_2" in detail
    assert "metric_1" not in detail and "metric_3" not in detail
    assert "Cut to fit" not in out


def test_markdown_of_a_large_diff_fits_a_pull_request_comment():
    result = synthetic_diff(80, 10)
    full = markdown(result, budget=10**9)
    assert len(full) > 65_536  # what GitHub would refuse
    out = markdown(result)
    assert len(out) <= 60_500
    last = out.rstrip().splitlines()[-1]
    shown = out.count("#### ` experiment/")  # details come last: a variant shown there is whole
    assert last == (f"Cut to fit a pull-request comment: {80 - shown} variant(s) or section(s) "
                    "left out or shown in part; `tpulens diff --format json` has everything.")
    assert 0 < shown < 80 and out.count("<details>") == out.count("</details>") == 1
    regressions = out.split("**Regressions**")[1].split("\n\n")[1].splitlines()
    assert regressions[2:] == full.split("**Regressions**")[1].split("\n\n")[1].splitlines()[
        2:len(regressions)]  # the worst rows, in order


def test_regressions_rank_by_how_far_beyond_their_threshold(capsys, tmp_path, results):
    """A 5-point accuracy loss is 5 thresholds (±0.01); +30 % latency is 3 (±10 %)."""
    head = tmp_path / "head"
    shutil.copytree(results, head)

    def less_accurate(data: dict) -> None:
        data["metrics"]["accuracy"] -= 0.05

    edit(head, "quantization/float16", lambda data: slower(data, 1.3))
    edit(head, VARIANT, less_accurate)
    code, out, _ = diff(capsys, results, head, "--format", "json")
    assert code == 1
    result = json.loads(out)
    worse = {(v["variant"], m["metric"]): m for v in result["variants"] for m in v["metrics"]
             if m["change"] == "worse"}
    assert {("float16", "latency_ms_p50"), ("int8_int8_io", "accuracy")} <= set(worse)
    assert {variant for variant, _ in worse} == {"float16", "int8_int8_io"}
    assert worse[("int8_int8_io", "accuracy")]["tolerance"] == 0.01
    _, text, _ = diff(capsys, results, head)
    rows = text.split("Regressions:\n")[1].split("\n\n")[0].splitlines()
    assert rows[0].startswith(f"  {VARIANT}  accuracy: ")
    assert rows[1].startswith("  quantization/float16  latency_ms_")


def moved_op_results(tmp_path, head_placements: list[str]) -> None:
    """One variant whose records have no op-count metrics, only an analysis."""
    for side, placements in (("base", ["TPU"] * 3), ("head", head_placements)):
        ops = [op(i, "CONV_2D", p, MAPPED if p == "TPU" else UNSUPPORTED,
                  "MAPPED" if p == "TPU" else "UNSUPPORTED_OP") for i, p in enumerate(placements)]
        write(tmp_path / side, "m/int8.json", record("m", "int8", {"size_bytes": 1000},
                                                      analysis="analysis/m-int8.json"))
        write(tmp_path / side, "analysis/m-int8.json", chain_analysis("x", 0) | {"ops": ops})


def test_an_op_that_leaves_the_edge_tpu_is_a_regression_by_itself(capsys, tmp_path):
    moved_op_results(tmp_path, ["TPU", "CPU", "TPU"])
    code, out, _ = diff(capsys, tmp_path / "base", tmp_path / "head", "--format", "json")
    variant = json.loads(out)["variants"][0]
    assert code == 1 and variant["regressed"]
    assert [m["change"] for m in variant["metrics"]] == ["unchanged"]
    _, md, _ = diff(capsys, tmp_path / "base", tmp_path / "head", "--format", "markdown")
    assert md.startswith("### ❌ tpulens diff: 1 variant(s) with ops moved to the CPU, "
                         "1 unchanged, 1 variants compared")


def test_an_op_that_moves_onto_the_edge_tpu_is_no_regression(capsys, tmp_path):
    moved_op_results(tmp_path, ["TPU", "CPU", "TPU"])
    base, head = tmp_path / "base", tmp_path / "head"
    code, out, _ = diff(capsys, head, base)  # the other way round: CPU → TPU
    assert code == 0 and "m/int8: 1 op(s) moved to the Edge TPU (predicted)" in out


def test_a_worse_objective_alone_is_a_change_not_a_regression(capsys, tmp_path, results):
    head = tmp_path / "head"
    shutil.copytree(results, head)

    def worse_objective(data):
        data["metrics"]["objective"] += 0.5

    edit(head, VARIANT, worse_objective)
    code, out, _ = diff(capsys, results, head, "--format", "json")
    variant = next(v for v in json.loads(out)["variants"]
                   if f"{v['experiment']}/{v['variant']}" == VARIANT)
    objective = next(m for m in variant["metrics"] if m["metric"] == "objective")
    assert (code, objective["change"], variant["regressed"]) == (0, "changed", False)
    assert "judged themselves" in objective["note"]
