"""Every real compiler log of the ground-truth corpus parses, and its counts match the models."""

import csv
from collections import Counter

import pytest

from tpulens.analyzer.ground_truth import CORPUS
from tpulens.analyzer.logs import MAPPED, STATUSES, parse_log_file
from tpulens.analyzer.model import read_model

pytestmark = pytest.mark.skipif(not (CORPUS / "logs").is_dir(),
                                reason=f"ground-truth corpus not found at {CORPUS}")


def _tsv(name: str) -> list[dict]:
    with open(CORPUS / name, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


UNVERIFIABLE = ("completeness cannot be verified: no summary lines (Total number of operations "
                "…) to check the table against")


def _histogram(text: str) -> Counter:
    """'ADD:10 CUSTOM:PosenetDecoderOp:1' → {'ADD': 10, 'CUSTOM': 1} (logs print CUSTOM)."""
    counts = Counter()
    for item in text.split():
        name, _, count = item.rpartition(":")
        counts[name.split(":")[0]] += int(count)
    return counts


SOURCES = _tsv("logs/SOURCES.tsv") if (CORPUS / "logs").is_dir() else []
PAIRS = {row["cpu_model"]: row for row in _tsv("PAIRS.tsv")} if SOURCES else {}
# A log stored beside its CPU model X.tflite as X_edgetpu.log: the authoritative pairing.
LOGS_WITH_MODEL = sorted(
    (log.relative_to(CORPUS).as_posix(),
     log.with_name(log.name.replace("_edgetpu.log", ".tflite")).relative_to(CORPUS).as_posix())
    for folder in ("pairs", "cpu_with_log") if (CORPUS / folder).is_dir()
    for log in (CORPUS / folder).rglob("*_edgetpu.log")
    if log.with_name(log.name.replace("_edgetpu.log", ".tflite")).exists())


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s["file"][:50])
def test_every_log_parses_with_its_version_and_exact_statuses(source):
    path = CORPUS / "logs" / source["file"]
    log = parse_log_file(path)
    assert log.models or log.errors
    stated = source["compiler_version"].split()[0]
    if f"version {stated}" in path.read_text():
        assert log.compiler_version == stated
    else:
        assert log.compiler_version is None
    for model in log.models:
        for row in model.rows:
            assert row.count > 0 and row.operator.isupper()
            assert row.status in STATUSES, row.status
    if source["complete"] == "yes" and source["kind"].startswith("edgetpu.log"):
        assert log.kind == "edgetpu.log"
        # A .log file has no summary lines: nothing can prove a cut at a line break absent.
        assert [m.complete for m in log.models] == [None]
        assert log.warnings == [UNVERIFIABLE]


def test_corpus_has_logs_beside_models():
    assert len(LOGS_WITH_MODEL) >= 30


@pytest.mark.parametrize("log_path, model_path", LOGS_WITH_MODEL, ids=lambda p: p[-50:])
def test_complete_log_rows_match_the_model_they_were_compiled_from(log_path, model_path):
    log = parse_log_file(CORPUS / log_path)
    (model,) = log.models
    assert model.complete is None and log.warnings == [UNVERIFIABLE]
    cpu = read_model(CORPUS / model_path)
    assert model.ops_in_table == len(cpu.operators)
    assert _by_operator(model) == Counter(op.opcode for op in cpu.operators)
    pair = PAIRS[model_path]
    assert model.ops_in_table == int(pair["cpu_ops_total"])
    if pair["kind"] == "pair":
        on_cpu = Counter()
        for row in model.rows:
            if row.status != MAPPED:
                on_cpu[row.operator] += row.count
        assert on_cpu == _histogram(pair["ops_left_on_cpu"])


def _by_operator(model) -> Counter:
    counts = Counter()
    for row in model.rows:
        counts[row.operator] += row.count
    return counts


def _claimed_model(cell: str) -> str | None:
    """SOURCES.tsv 'yes (pairs/x.tflite)' / 'CPU model only (cpu_with_log/x.tflite; …)'."""
    if not cell.startswith(("yes (", "CPU model only (")):
        return None
    path = cell.split("(", 1)[1].split(")")[0].split(";")[0].strip()
    return path if path.endswith(".tflite") else None


# SOURCES.tsv rows whose named corpus model is not the file that was compiled (checked by hand:
# same file name, different conversion), or is absent from the corpus.
NOT_THE_COMPILED_FILE = {
    "EdgeTPU_Analysis__Ops__model_mobilenet__mobilenet_v2_1.0_224_quant_edgetpu.log":
        "log lists 65 ops (AVERAGE_POOL_2D, no RESHAPE); the test_data model has 66",
    "coral_transfer@d3b1cea__mobilenet_v2_1.0_224_quant_edgetpu.log":
        "log lists 72 ops of a Keras transfer model; the test_data model has 66",
    "EdgeTPU_Analysis__InOut__model_mobilenet_v2__model_mobilenet_v2_wo_fc_1024x1024x3"
    "_edgetpu.log": "the named cpu_with_log model is not in the corpus",
}


@pytest.mark.parametrize("source", [s for s in SOURCES if _claimed_model(s["tflite_in_corpus"])],
                         ids=lambda s: s["file"][:50])
def test_logs_named_in_sources_match_their_model(source):
    model_path = CORPUS / _claimed_model(source["tflite_in_corpus"])
    (model,) = parse_log_file(CORPUS / "logs" / source["file"]).models
    matches = model_path.exists() and Counter(
        op.opcode for op in read_model(model_path).operators) == _by_operator(model)
    assert matches == (source["file"] not in NOT_THE_COMPILED_FILE)


# Hand-read from each pasted log: what is cut and how the parser must notice it.
CUT_LOGS = {
    "issue-edgetpu-147-a.log": "CPU count and the table are missing",
    "issue-edgetpu-222-a.log": "summary says 400",
    "issue-edgetpu-358-b.log": "CPU count and the table are missing",
    "issue-edgetpu-490-a.log": "summary says 267",
    "issue-edgetpu-512-a.log": "CPU count and the table are missing",
    "issue-edgetpu-671-a.log": "header without rows",
    "issue-edgetpu-708-a.log": "summary says 157",
    "issue-edgetpu-420.log": "abridged",
}


@pytest.mark.parametrize("name", sorted(CUT_LOGS))
def test_cut_and_abridged_logs_are_flagged(name):
    log = parse_log_file(CORPUS / "logs" / name)
    assert [m.complete for m in log.models] == [False]
    assert any(CUT_LOGS[name] in w for w in log.warnings), log.warnings


def test_summary_lines_are_read():
    log = parse_log_file(CORPUS / "logs" / "issue-edgetpu-147-a.log")
    summary = log.models[0].summary
    assert log.command["flags"] == {"show_operations": True}
    assert log.compiled is True and log.compile_time_ms == 917
    assert summary["on_chip_used_bytes"] == round(21.75 * 1024)
    assert summary["off_chip_used"] == "3.00KiB"
    assert (summary["tpu_subgraphs"], summary["ops_total"], summary["ops_tpu"]) == (1, 23, 6)
    assert log.models[0].input_model == "model_relu_quant.tflite"
    assert log.models[0].output_model == "model_relu_quant_edgetpu.tflite"


def test_delegate_search_and_segment_model():
    log = parse_log_file(CORPUS / "logs" / "issue-edgetpu-671-a.log")
    assert log.delegate_search == {"step": 10, "segments_tried": [84]}
    assert log.models[0].input_model == "rede_modelo3_73_segment_0_of_2.tflite"


@pytest.mark.parametrize("name, codes", [
    ("issue-edgetpu-168.log", ["INVALID_MODEL", "NOT_QUANTIZED"]),
    ("issue-edgetpu-601-a.log", ["COMPILER_ERROR", "LARGE_ACTIVATIONS"]),
    ("issue-edgetpu-829.log", ["DYNAMIC_TENSORS", "COMPILATION_FAILED"]),
    ("issue-edgetpu-714.log", ["COMPILATION_FAILED"]),
])
def test_failures_become_errors(name, codes):
    log = parse_log_file(CORPUS / "logs" / name)
    assert [e["code"] for e in log.errors] == codes
    assert log.compiled is False and log.models == []


def test_unknown_pasted_sentence_is_a_warning_not_a_failure():
    log = parse_log_file(CORPUS / "logs" / "issue-edgetpu-530.log")
    assert log.models[0].summary["ops_cpu"] == 21
    assert any("not recognised" in w for w in log.warnings)
