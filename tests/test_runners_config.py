"""benchmarks.toml validation: every error names the file, a line and the key path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tpulens.errors import InputError
from tpulens.runners import config
from tpulens.runners.plan import build_plan, resolve_model

REPO = Path(__file__).resolve().parents[1]

VALID = """
schema_version = 1

[profiles.quick]
train_samples = 10
test_samples = 10
eval_train_samples = 10
calibration_samples = 4
epochs = 1
finetune_epochs = 1
latency_warmup = 1
latency_runs = 2

[datasets.d]
kind = "idx"
path = "data"

[models.m]
builder = "small_cnn"
input_size = 8

[experiments.e]
kind = "classification"
dataset = "d"
defaults = { train = { model = "m" } }

[[experiments.e.variants]]
name = "float32"
compress = { method = "float32" }

[[experiments.e.variants]]
name = "int8"
compress = { method = "int8", io = "uint8" }
evaluate = { objective_baseline = "float32" }
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    path = tmp_path / "benchmarks.toml"
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(InputError) as info:
        config.load(write(tmp_path, text))
    return str(info.value)


def test_repo_suite_is_valid_and_plans_every_profile():
    suite = config.load(REPO / "benchmarks.toml")
    assert set(suite.profiles) == {"quick", "default", "full"}
    default = build_plan(suite, "default")
    names = {(v.experiment, v.variant) for v in default.variants}
    for expected in [("quantization", "int8_uint8_io"), ("collaborative", "pcqat"),
                     ("distillation", "student_distilled"), ("scaling", "compound_phi2"),
                     ("scaling", "lite_phi0"), ("zoo", "coral_ssd_mobilenet_v2"),
                     ("detection", "float"), ("detection", "int8")]:
        assert expected in names
    assert {("detection", v) for v in ("keras", "float", "int8")} <= names
    quick = build_plan(suite, "quick")
    assert {v.experiment for v in quick.variants} == {"quantization", "collaborative",
                                                      "distillation", "scaling", "detection"}


def test_shared_steps_are_planned_once():
    suite = config.load(REPO / "benchmarks.toml")
    plan = build_plan(suite, "quick", only=["quantization", "collaborative"])
    trains = {v.steps["train"] for v in plan.variants}
    assert len(trains) == 1  # one float model feeds every variant of both studies
    by = {(v.experiment, v.variant): v for v in plan.variants}
    # the int8/int8-I/O PTQ model is the same step in both experiments
    assert by["quantization", "int8_int8_io"].steps["convert"] == \
        by["collaborative", "baseline"].steps["convert"]
    assert by["collaborative", "pruned"].steps["optimize0"] == \
        by["collaborative", "pcqat"].steps["optimize0"]


def test_valid_minimal_suite(tmp_path):
    suite = config.load(write(tmp_path, VALID))
    plan = build_plan(suite, "quick")
    assert [v.variant for v in plan.variants] == ["float32", "int8"]
    assert plan.variants[1].baseline == "float32"


def test_toml_syntax_error_has_file_and_line(tmp_path):
    message = error_of(tmp_path, VALID + "\n[broken\n")
    line = len(VALID.splitlines()) + 2
    assert message.startswith(f"{tmp_path / 'benchmarks.toml'}:{line}: broken: TOML syntax error")


def test_unknown_key_is_rejected_with_line_and_path(tmp_path):
    text = VALID.replace('compress = { method = "float32" }',
                         'compress = { method = "float32" }\nfoo = 3')
    message = error_of(tmp_path, text)
    line = text.splitlines().index("foo = 3") + 1
    assert f"benchmarks.toml:{line}: experiments.e.variants[0].foo: unknown key" in message


def test_wrong_type_and_bad_choice(tmp_path):
    message = error_of(tmp_path, VALID.replace("epochs = 1", 'epochs = "one"'))
    assert "profiles.quick.epochs: expected an integer, got a string 'one'" in message
    message = error_of(tmp_path, VALID.replace('io = "uint8"', 'io = "int4"'))
    assert "experiments.e.variants[1].compress.io: expected one of" in message
    assert "'int4'" in message


def test_missing_required_and_dangling_references(tmp_path):
    message = error_of(tmp_path, VALID.replace("latency_runs = 2\n", ""))
    assert "profiles.quick.latency_runs: required key is missing" in message
    message = error_of(tmp_path, VALID.replace('dataset = "d"', 'dataset = "nope"'))
    assert "experiments.e.dataset" in message and "'nope'" in message
    message = error_of(tmp_path, VALID.replace('objective_baseline = "float32"',
                                               'objective_baseline = "fp32"'))
    assert "experiments.e.variants[1].evaluate.objective_baseline" in message


def test_semantic_checks(tmp_path):
    text = VALID.replace('compress = { method = "float32" }',
                         'compress = { method = "float32", preserve = ["sparsity"] }')
    assert "only for method = 'qat'" in error_of(tmp_path, text)
    text = VALID.replace('name = "int8"', 'name = "float32"')
    assert "duplicate variant name 'float32'" in error_of(tmp_path, text)
    text = VALID.replace('compress = { method = "float32" }',
                         'compress = { method = "float32" }\noptimize = [{ method = "prune" }]')
    assert "optimize[0].target_sparsity: required for 'prune'" in error_of(tmp_path, text)
    text = VALID.replace('[[experiments.e.variants]]\nname = "float32"',
                         '[[experiments.e.variants]]\nname = "float32"\n'
                         'source = { registry = "pypi", package = "x", version = "1" }', 1)
    assert "variants[0].source: not allowed in a 'classification' experiment" in \
        error_of(tmp_path, text)


def test_unknown_profile_and_only(tmp_path):
    suite = config.load(write(tmp_path, VALID))
    with pytest.raises(InputError, match="unknown profile 'fast'"):
        build_plan(suite, "fast")
    with pytest.raises(InputError, match="unknown experiment"):
        build_plan(suite, "quick", only=["nope"])


def test_compound_scaling_follows_efficientnet():
    base = {"builder": "efficientnet", "input_size": 32}
    one = resolve_model(base, {"phi": 1, "dims": ["depth", "width", "resolution"]})
    assert one["depth_coefficient"] == 1.2 and one["width_coefficient"] == 1.1
    assert one["input_size"] == 38  # 32 * 1.15 = 36.8, rounded up to an even size
    two = resolve_model(base, {"phi": 2, "dims": ["width"]})
    assert two["width_coefficient"] == pytest.approx(1.21) and "depth_coefficient" not in two
    assert two["input_size"] == 32


def test_config_change_changes_only_dependent_keys(tmp_path):
    first = build_plan(config.load(write(tmp_path, VALID)), "quick")
    second = build_plan(config.load(write(tmp_path, VALID.replace(
        'io = "uint8"', 'io = "int8"'))), "quick")
    assert first.variants[0].record_key == second.variants[0].record_key
    assert first.variants[1].steps["train"] == second.variants[1].steps["train"]
    assert first.variants[1].steps["convert"] != second.variants[1].steps["convert"]


def test_empty_file_duplicate_key_non_utf8_and_unknown_profile_have_lines(tmp_path):
    path = tmp_path / "benchmarks.toml"
    assert error_of(tmp_path, "# nothing yet\n") == \
        f"{path}:1: schema_version: the file is empty; a suite needs schema_version, " \
        "[profiles.*] and [experiments.*]"
    text = VALID.replace("epochs = 1\n", "epochs = 1\nepochs = 2\n", 1)
    line = text.splitlines().index("epochs = 2") + 1
    assert error_of(tmp_path, text) == f"{path}:{line}: profiles.quick.epochs: TOML syntax " \
                                       "error: duplicate key or table (each may be written once)"
    path.write_bytes(VALID.replace("[models.m]", "# caf\xe9\n[models.m]").encode("latin-1"))
    line = VALID.splitlines().index("[models.m]") + 1
    with pytest.raises(InputError, match=rf"benchmarks.toml:{line}: not UTF-8"):
        config.load(path)
    suite = config.load(write(tmp_path, VALID))
    with pytest.raises(InputError, match=r"benchmarks.toml:4: profiles: unknown profile 'fast' "
                                         r"\(defined: quick\)"):
        build_plan(suite, "fast")


@pytest.mark.parametrize("old, new, expected", [
    ("epochs = 1\n", "epochs = -3\n", "profiles.quick.epochs: expected an integer from 1 to 1000, "
                                      "got -3"),
    ("epochs = 1\n", "epochs = 1000000000000\n", "got 1000000000000"),
    ("latency_runs = 2", "latency_runs = 0", "profiles.quick.latency_runs: expected an integer"),
    ("latency_runs = 2", "latency_runs = 2\nbatch_size = 0", "profiles.quick.batch_size: "
                                                             "expected an integer from 1"),
    ('model = "m"', 'model = "m", learning_rate = nan', "train.learning_rate: expected a finite "
                                                        "number from 1e-07 to 10, got nan"),
    ('model = "m"', 'model = "m", epochs_scale = inf', "train.epochs_scale: expected a finite"),
    ('model = "m"', 'model = "m", scale = { phi = 100000, dims = ["width"] }',
     "train.scale.phi: expected an integer from 0 to 8, got 100000"),
    ('model = "m"', 'model = "m", scale = { phi = 1 }', "train.scale.dims: required key"),
    ('model = "m"', 'model = "m", scale = { phi = 1, dims = [["depth"]] }',
     "train.scale.dims[0]: expected a string, got an array ['depth']"),
    ('{ method = "float32" }', '{ method = "qat", preserve = [["sparsity"]] }',
     "compress.preserve[0]: expected a string, got an array"),
    ("latency_runs = 2", 'latency_runs = 2\nexperiments = [{ a = 1 }]',
     "profiles.quick.experiments[0]: expected a string, got a table {'a': 1}"),
    ('name = "int8"', 'name = "int8"\nprofiles = [{ x = 1 }]',
     "variants[1].profiles[0]: expected a string, got a table"),
    ('name = "int8"', 'name = "int8"\noptimize = [{ target_sparsity = 0.5 }]',
     "variants[1].optimize[0].method: required key is missing"),
])
def test_invalid_values_are_refused_where_they_are_written(tmp_path, old, new, expected):
    text = VALID.replace(old, new, 1)
    message = error_of(tmp_path, text)
    assert expected in message
    last = new.strip().splitlines()[-1]
    written = next(i for i, line in enumerate(text.splitlines(), 1) if last in line)
    assert f"benchmarks.toml:{written}: " in message, message


def test_teacher_cycle_is_one_problem(tmp_path):
    text = VALID.replace('compress = { method = "float32" }',
                         'compress = { method = "float32" }\ntrain = { teacher = "int8" }')
    text = text.replace('compress = { method = "int8", io = "uint8" }',
                        'compress = { method = "int8", io = "uint8" }\n'
                        'train = { teacher = "float32" }')
    message = error_of(tmp_path, text)
    assert message.count("teacher cycle") == 1
    assert "teacher cycle: float32 -> int8 -> float32" in message


def test_every_problem_in_one_pass_each_where_written(tmp_path):
    text = VALID.replace('defaults = { train = { model = "m" } }',
                         'defaults = { train = { model = "mobilenet" } }')
    text = text.replace('dataset = "d"', 'dataset = "fashion"')
    text = text.replace('io = "uint8"', 'io = "int4"')
    message = error_of(tmp_path, text)
    lines = message.splitlines()
    assert len(lines) == 3, message  # the unknown model once, at the defaults, not per variant
    numbered = [int(line.split(":")[1]) for line in lines]
    assert numbered == sorted(numbered)
    where = text.splitlines().index('defaults = { train = { model = "mobilenet" } }') + 1
    assert f"benchmarks.toml:{where}: experiments.e.defaults.train.model: unknown model " \
           "'mobilenet' (defined: m)" in message
    assert "experiments.e.dataset: unknown dataset 'fashion' (defined: d)" in message
    assert "experiments.e.variants[1].compress.io: expected one of" in message


DETECTION = VALID + """
[experiments.det]
kind = "detection"

[[experiments.det.variants]]
name = "v"
params = { PARAMS }
"""


@pytest.mark.parametrize("params, expected", [
    ('epoch = 3', "params.epoch: unknown key (allowed: batch_size, calibration_images, classes"),
    ('epochs = "ten"', "params.epochs: expected an integer, got a string 'ten'"),
    ('image_size = 100', "params.image_size: expected a multiple of 32, got 100"),
    ('classes = ["bag", "car"]', "unknown Fashion-MNIST class 'car' (defined: ankle_boot, bag,"),
    ('export = "int4"', "params.export: expected one of 'keras', 'float', 'int8', got 'int4'"),
    ('tflite = "missing.tflite", dataset = "data"', "params.tflite: "),
    ('tflite = "data"', "params.tflite: "),
    ('dataset = "nowhere"', "params.dataset: "),
])
def test_detection_parameters_are_checked(tmp_path, params, expected):
    message = error_of(tmp_path, DETECTION.replace("PARAMS", params))
    assert expected in message
    line = len(DETECTION.splitlines())
    assert f"benchmarks.toml:{line}: experiments.det.variants[0].params." in message


def test_bring_your_own_detector_is_opened_by_check(tmp_path):
    (tmp_path / "m.tflite").write_bytes(b"not a model")
    text = DETECTION.replace("PARAMS", 'tflite = "m.tflite", dataset = "data"')
    path = write(tmp_path, text)
    config.load(path)  # a run finds the problem in the export step; --check opens the file
    with pytest.raises(InputError, match="params.tflite: .*m.tflite: not a TFLite flatbuffer"):
        config.load(path, deep=True)
    text = DETECTION.replace("PARAMS", 'tflite = "m.tflite"')
    assert "params.tflite: needs a 'dataset' to evaluate on" in error_of(tmp_path, text)
    text = DETECTION.replace("PARAMS", 'tflite = "m.tflite", dataset = "data", export = "keras"')
    assert "a bring-your-own tflite has no Keras model" in error_of(tmp_path, text)


def test_check_lists_every_problem_and_exits_2(tmp_path, capsys):
    from tpulens.cli import main

    text = VALID.replace("epochs = 1\n", "epochs = 0\n", 1).replace('io = "uint8"', 'io = "x"')
    assert main(["run", str(write(tmp_path, text)), "--profile", "quick", "--check"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 2
    assert "profiles.quick.epochs" in err and "compress.io" in err


REDTEAM = Path(__file__).resolve().parents[2] / "shared" / "redteam" / "configs"


@pytest.mark.parametrize("name", sorted(p.name for p in REDTEAM.glob("[0-9]*.toml")))
def test_redteam_configs_are_refused_with_file_and_line(name):
    with pytest.raises(InputError) as info:
        config.load(REDTEAM / name)
    for line in str(info.value).splitlines():
        assert re.match(rf"^{re.escape(str(REDTEAM / name))}:\d+: \S+", line), line


def test_dataset_files_must_exist(tmp_path):
    message = error_of(tmp_path, VALID.replace('path = "data"', 'path = "nowhere"'))
    line = VALID.splitlines().index('path = "data"') + 1
    assert f"benchmarks.toml:{line}: datasets.d.path: {tmp_path / 'nowhere'}: no such file" \
        in message
    message = error_of(tmp_path, VALID.replace('path = "data"\n', ""))
    assert "datasets.d.path: required for kind 'idx'" in message


def test_a_stage_version_follows_the_code_it_runs(tmp_path, monkeypatch):
    from tpulens.runners import code_keys

    stage = "tpulens.runners.stages.detection_train"
    closure = code_keys._closure(stage)
    assert {"tpulens.runners.detection.model", "tpulens.runners.detection.anchors",
            "tpulens.runners.tfsetup"} <= closure
    assert "tpulens.runners.stages.compile" not in closure
    before = {s: code_keys.code_version(s) for s in (stage, "tpulens.runners.stages.compile")}
    edited = tmp_path / "anchors.py"
    edited.write_text(code_keys._file("tpulens.runners.detection.anchors").read_text() + "X = 1\n")
    real = code_keys._file
    monkeypatch.setattr(code_keys, "_file", lambda m: edited if m.endswith(".anchors") else real(m))
    code_keys.code_version.cache_clear()
    try:
        assert code_keys.code_version(stage) != before[stage]
        assert code_keys.code_version("tpulens.runners.stages.compile") == \
            before["tpulens.runners.stages.compile"]
    finally:
        monkeypatch.undo()
        code_keys.code_version.cache_clear()
