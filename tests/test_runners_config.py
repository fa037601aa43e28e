"""benchmarks.toml validation: every error names the file, a line and the key path."""

from __future__ import annotations

from pathlib import Path

import pytest
from tpulens.runners import config
from tpulens.runners.plan import build_plan, resolve_model

from tpulens.errors import InputError

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
    quick = build_plan(suite, "quick")
    assert {v.experiment for v in quick.variants} == {"quantization", "collaborative",
                                                      "distillation", "scaling"}


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
    assert "benchmarks.toml" in message and "TOML syntax error" in message
    assert f"line {len(VALID.splitlines()) + 2}" in message


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
