"""The what-ifs reuse what the analysis they vary worked out (its rule checks, and for -a its
partition, kept in the model's CheckMemo): what they count must be what an analysis made from
scratch with the same options counts."""

from tpulens.analyzer import analyze as analyze_module
from tpulens.analyzer.analyze import analyze_model, make_options
from tpulens.analyzer.model import read_model

YOLO = ("pairs/EdgeTPU-MOT@03eb91d/server_script/yolov10n_saved_model/"
        "yolov10n_full_integer_quant.tflite")


def test_the_a_what_if_reuses_the_partition_and_counts_as_an_a_analysis(corpus, monkeypatch):
    """YOLOv10n's -a what-if partitions nothing again (-a only chooses which TPU epochs map),
    and its counts and latency are those of an analysis made with -a from the start."""
    partitioned = []
    real = analyze_module._partition
    monkeypatch.setattr(analyze_module, "_partition",
                        lambda *args: partitioned.append(args) or real(*args))
    result = analyze_model(read_model(corpus / YOLO), make_options())
    (case,) = [c for c in result.what_if if c.flags == ("-a",)]
    assert len(partitioned) == 2  # the analysis shown (shared by -a), and the int8 what-if

    with_a = analyze_model(read_model(corpus / YOLO), make_options(None, True), what_if=False)
    assert (case.ops_tpu, case.ops_cpu, case.ops_low_confidence) == tuple(
        analyze_module._counts(with_a).values())
    assert case.latency_ms == analyze_module._latency(with_a)
    assert 0 < case.ops_tpu < case.ops_tpu + case.ops_cpu
