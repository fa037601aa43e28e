"""The overview's accuracy-vs-size chart across experiments (report/overview_chart.py)."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest
import sample_results as sample

from tpulens.report.experiments import experiments_of
from tpulens.report.load import load_results
from tpulens.report.overview_chart import tradeoff_chart


def experiments(results):
    return [(e.name, e.data) for e in experiments_of(load_results(results))]


def test_one_marker_per_experiment_and_each_experiments_own_front(tmp_path):
    chart = tradeoff_chart(experiments(sample.write_study_results(tmp_path / "results")))
    go.Figure(chart.figure)  # raises on any invalid property
    traces = {t["name"]: t for t in chart.figure["data"]}
    points = [t for t in chart.figure["data"] if t.get("showlegend") is not False]
    assert [t["name"] for t in points] == [
        "collaborative (INT8 accuracy)",
        "detection (COCO AP)",
        "quantization (accuracy)",
    ]
    assert len({(t["marker"]["symbol"], t["marker"]["color"]) for t in points}) == 3
    # Skipped and failed variants have no numbers to plot.
    assert sorted(traces["quantization (accuracy)"]["text"]) == [
        "dynamic_range", "float16", "float32", "int8"
    ]
    assert "pcqat" not in traces["collaborative (INT8 accuracy)"]["text"]
    # int8 is the smallest; float16 is as accurate as float32 and half its size; pruned is
    # as large as baseline and less accurate.
    assert traces["quantization Pareto front"]["text"] == ["int8", "float16"]
    assert traces["collaborative Pareto front"]["text"] == ["pqat", "baseline"]
    assert traces["detection Pareto front"]["text"] == ["int8", "float"]
    assert traces["detection (COCO AP)"]["y"] == pytest.approx([82.4, 80.5])  # AP in percent
    quantization = traces["quantization (accuracy)"]
    assert dict(zip(quantization["text"], quantization["x"], strict=True))["float32"] == (
        320_000 / 1024  # KiB
    )
    assert chart.figure["layout"]["xaxis"]["type"] == "log"
    layout = chart.figure["layout"]
    assert layout["yaxis"]["title"]["text"] == "accuracy or COCO AP (%, COCO AP × 100)"
    assert layout["title"]["text"] == "Accuracy or COCO AP vs size, every experiment"
    assert "quantization: int8, float16" in chart.caption and "measured" in chart.caption


def test_no_chart_without_accuracy_and_size(tmp_path):
    results = tmp_path / "results"
    sample.write(results, "e/a.json", sample.record("e", "a", {"latency_ms_p50": 1.0}))
    assert tradeoff_chart(experiments(results)) is None
    assert tradeoff_chart([]) is None


def test_the_axis_names_only_what_it_holds(tmp_path):
    results = tmp_path / "results"
    for variant, size in (("a", 1000), ("b", 2000)):
        metrics = {"accuracy": 0.9, "size_bytes": size}
        sample.write(results, f"e/{variant}.json", sample.record("e", variant, metrics))
    layout = tradeoff_chart(experiments(results)).figure["layout"]
    assert layout["yaxis"]["title"]["text"] == "accuracy (%)"
    assert layout["title"]["text"] == "Accuracy vs size, every experiment"
