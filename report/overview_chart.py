"""The overview's trade-off chart: accuracy against file size for every ok variant of every
experiment, one marker per experiment, each experiment's Pareto front joined.

Fronts are drawn per experiment: its variants share a model and a dataset, so "smaller and at
least as accurate" compares like with like; a front across experiments would rank a detector's
COCO AP against a classifier's accuracy. Each experiment's accuracy metric is named in its legend
entry, and the y axis names what it holds ("accuracy or COCO AP" when both), in percent (COCO AP
× 100, as it is usually quoted).
"""

from __future__ import annotations

from collections.abc import Sequence

from tpulens.report import metric_view as m
from tpulens.report.charts import FRONT_COLOR, Chart, _figure
from tpulens.report.tables import ExperimentData

SIZE = "size_bytes"
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "x", "star", "hexagon")
COLORS = ("#1565c0", "#6a1b9a", "#00838f", "#ef6c00", "#2e7d32", "#ad1457", "#4e342e", "#455a64")


def _points(data: ExperimentData, accuracy: str) -> list[tuple[str, float, float]]:
    """(variant, KiB, percent) of the ok variants that have both numbers."""
    points = []
    for record in data.records:
        size, value = data.value(record.variant, SIZE), data.value(record.variant, accuracy)
        if record.status == "ok" and size and value is not None and value >= 0:
            points.append((record.variant, size / 1024, value * 100))
    return points


def tradeoff_chart(experiments: Sequence[tuple[str, ExperimentData]]) -> Chart | None:
    """`experiments` as (name, data) pairs; None when no experiment has accuracy and size."""
    traces, fronts, sources, kinds = [], [], set(), {}
    for number, (name, data) in enumerate(experiments):
        accuracy = m.first_present(m.ACCURACY_KEYS, set(data.frame.columns))
        points = _points(data, accuracy) if accuracy and SIZE in data.frame.columns else []
        if not points:
            continue
        sources |= {data.source(v, accuracy) or "unrecorded" for v, _, _ in points}
        kinds["COCO AP" if accuracy.startswith("coco_") else "accuracy"] = True
        front = m.pareto_front([(x, y) for _, x, y in points], "lower", "higher")
        fronts.append(f"{name}: {', '.join(points[i][0] for i in front)}")
        style = {"color": COLORS[number % len(COLORS)], "symbol": SYMBOLS[number % len(SYMBOLS)]}
        label = f"{name} ({data.metas[accuracy].label})"
        hover = f"{name}/%{{text}}<br>%{{x:,.0f}} KiB, %{{y:.2f}} %<extra></extra>"
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": label,
                "legendgroup": name,
                "x": [x for _, x, _ in points],
                "y": [y for _, _, y in points],
                "text": [v for v, _, _ in points],
                "marker": {**style, "size": 10},
                "hovertemplate": hover,
            }
        )
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": f"{name} Pareto front",
                "legendgroup": name,
                "showlegend": False,
                "x": [points[i][1] for i in front],
                "y": [points[i][2] for i in front],
                "text": [points[i][0] for i in front],
                "line": {"color": style["color"], "dash": "dot"},
                "marker": {**style, "size": 15, "color": FRONT_COLOR, "opacity": 0.35},
                "hovertemplate": hover,
            }
        )
    if not traces:
        return None
    measure = " or ".join(sorted(kinds, reverse=True))  # what the y axis holds, honestly
    title = f"{measure[0].upper()}{measure[1:]} vs size, every experiment"
    figure = _figure(traces, title, "size (KiB, log scale)", f"{measure} (%, COCO AP × 100)"
                     if "COCO AP" in kinds else f"{measure} (%)")
    figure["layout"]["xaxis"]["type"] = "log"
    caption = (
        "Each experiment's ok variants; its Pareto front (no other variant of the same "
        "experiment is at least as small and at least as accurate) joined by a dotted line: "
        + "; ".join(fronts)
        + f". Accuracy {'/'.join(sorted(sources))}; sizes are file sizes."
    )
    return Chart("chart-overview-tradeoff", title, figure, caption)
