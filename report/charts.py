"""Plotly figures for an experiment, as plain figure dicts for the site's shared chart loader.

Figures are built as plotly's JSON figure schema directly (data + layout): constructing
`plotly.graph_objects` validates every property and costs ~10 ms per figure, which dominated
large builds. tests/test_report_build.py validates these dicts with plotly.graph_objects.
Pages embed only the JSON; plotly.js is one shared asset. Div ids derive from the experiment
slug, so identical inputs give identical bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tpulens.analyzer.vocabulary import Placement, RecordStatus
from tpulens.metrics import Better
from tpulens.report import metric_view as m
from tpulens.report.detections import model_order
from tpulens.report.labels import PLACEMENT_COLORS
from tpulens.report.tables import ExperimentData

FRONT_COLOR, POINT_COLOR = "#c62828", "#1565c0"
CLASS_AP_PREFIX = "coco_AP_"  # coco_AP_<class>; coco_AP50 and coco_APs are not classes


@dataclass
class Chart:
    id: str
    title: str
    figure: dict
    caption: str

    @property
    def figure_json(self) -> str:
        """Figure JSON safe inside <script type="application/json"> (no '<', '>' or '&')."""
        text = json.dumps(self.figure, sort_keys=True, separators=(",", ":"))
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _figure(data: list[dict], title: str, x: str, y: str, **layout) -> dict:
    axis = {"gridcolor": "#e5e5e5", "zeroline": False, "automargin": True}
    return {
        "data": data,
        "layout": {
            "title": {"text": title, "x": 0.01},
            "height": 360,
            "margin": {"l": 70, "r": 20, "t": 50, "b": 60},
            "font": {"family": "system-ui, sans-serif", "size": 12},
            "xaxis": {**axis, "title": {"text": x}},
            "yaxis": {**axis, "title": {"text": y}},
            "legend": {"orientation": "h", "y": -0.25},
            "hovermode": "closest",
            "plot_bgcolor": "white",
            "paper_bgcolor": "white",
            **layout,
        },
    }


def _sources(data: ExperimentData, variants: list[str], key: str) -> str:
    return "/".join(sorted({data.source(v, key) or "unrecorded" for v in variants}))


def axis_title(label: str, unit: str, where: str) -> str:
    """An axis title with its unit, then where it was measured: "latency p50 (ms, host CPU,
    LiteRT, 1 thread)"; a part of `where` the label already says is not repeated."""
    unsaid = ", ".join(part for part in where.split(", ") if part not in label)
    details = ", ".join(d for d in (m.header_unit(label, unit), unsaid) if d)
    return f"{label} ({details})" if details else label


def pareto_chart(data: ExperimentData, x_key: str, y_key: str, kind: str) -> Chart | None:
    """Accuracy against a cost, with the non-dominated variants joined and marked."""
    ok = [r.variant for r in data.records if r.status == RecordStatus.OK]
    pts = [
        (v, data.value(v, x_key), data.value(v, y_key))
        for v in ok
        if data.ranks(v, x_key) and data.ranks(v, y_key)
    ]
    if not pts:
        return None
    off = [v for v in ok if data.off_edgetpu(v) and m.on_edgetpu_only(x_key)]
    x_meta, y_meta = data.metas[x_key], data.metas[y_key]
    x_scale = 1 / 1024 if x_meta.unit == "bytes" else 1
    y_scale = 100 if y_meta.unit == "fraction" else 1
    x_label = axis_title(x_meta.label, "KiB" if x_scale != 1 else x_meta.unit, data.where(x_key))
    y_label = axis_title(y_meta.label, "%" if y_scale == 100 else y_meta.unit, data.where(y_key))
    names = [v for v, _, _ in pts]
    xs = [x * x_scale for _, x, _ in pts]
    ys = [y * y_scale for _, _, y in pts]
    front = m.pareto_front(
        [(x, y) for _, x, y in pts],
        x_meta.better if x_meta.better != Better.NONE else Better.LOWER,
        y_meta.better if y_meta.better != Better.NONE else Better.HIGHER,
    )
    hover = "%{text}<br>%{x:.4g}, %{y:.4g}<extra></extra>"
    points = {
        "type": "scatter",
        "mode": "markers",
        "name": "variant",
        "x": xs,
        "y": ys,
        "text": names,
        "marker": {"size": 9, "color": POINT_COLOR},
        "hovertemplate": hover,
    }
    ranges = [data.bounds(v, x_key) for v in names]
    if any(ranges):  # the predicted range of each figure, as horizontal error bars
        points["error_x"] = _error_bars(xs, ranges, x_scale)
    traces = [  # only the front is labelled: labels of a dense cloud overlap
        points,
        {
            "type": "scatter",
            "mode": "lines+markers+text",
            "name": "Pareto front",
            "x": [xs[i] for i in front],
            "y": [ys[i] for i in front],
            "text": [names[i] for i in front],
            "textposition": "top center",
            "cliponaxis": False,
            "hovertemplate": hover,
            "line": {"color": FRONT_COLOR, "dash": "dot"},
            "marker": {"size": 13, "symbol": "diamond-open", "color": FRONT_COLOR},
        },
    ]
    title = f"{y_meta.label} vs {x_meta.label}"
    caption = (
        f"Pareto front (no other variant is better on both axes): "
        f"{', '.join(names[i] for i in front)}. "
        f"x {_sources(data, names, x_key)}, y {_sources(data, names, y_key)}."
    )
    if any(ranges):
        caption += " Bars: the predicted range."
    if off:
        caption += f" Not on the Edge TPU (no op maps there, so no point): {', '.join(off)}."
    return Chart(
        f"chart-{data.slug}-{kind}", title, _figure(traces, title, x_label, y_label), caption
    )


def _error_bars(xs: list[float], ranges: list, scale: float) -> dict:
    """Plotly's asymmetric error bars from (low, high) per point (none where absent)."""
    return {
        "type": "data",
        "symmetric": False,
        "array": [(r[1] * scale - x) if r else 0 for x, r in zip(xs, ranges, strict=True)],
        "arrayminus": [(x - r[0] * scale) if r else 0 for x, r in zip(xs, ranges, strict=True)],
        "color": POINT_COLOR,
        "thickness": 1,
    }


def size_chart(data: ExperimentData) -> Chart | None:
    if "gzip_bytes" not in data.frame.columns:
        return None
    variants = [
        v
        for v in data.variants
        if data.value(v, "size_bytes") is not None or data.value(v, "gzip_bytes") is not None
    ]
    traces = []
    for key, color in (("size_bytes", "#90a4ae"), ("gzip_bytes", POINT_COLOR)):
        values = [data.value(v, key) for v in variants]
        traces.append(
            {
                "type": "bar",
                "name": m.meta(key).label,
                "x": variants,
                "y": [None if x is None else x / 1024 for x in values],
                "marker": {"color": color},
            }
        )
    caption = f"File sizes, {_sources(data, variants, 'size_bytes')}."
    return Chart(
        f"chart-{data.slug}-size",
        "size vs gzip size",
        _figure(traces, "size vs gzip size", "variant", "KiB", barmode="group"),
        caption,
    )


def share_chart(data: ExperimentData) -> Chart | None:
    variants = [v for v in data.variants if data.value(v, "edgetpu_share") is not None]
    if not variants:
        return None
    shares = [data.value(v, "edgetpu_share") * 100 for v in variants]
    traces = [
        {
            "type": "bar",
            "name": "on Edge TPU",
            "x": variants,
            "y": shares,
            "marker": {"color": PLACEMENT_COLORS[Placement.TPU]},
        },
        {
            "type": "bar",
            "name": "on CPU",
            "x": variants,
            "y": [100 - s for s in shares],
            "marker": {"color": PLACEMENT_COLORS[Placement.CPU]},
        },
    ]
    title = f"Edge TPU mapped share ({data.where('edgetpu_share')})"
    figure = _figure(traces, title, "variant", "% of ops", barmode="stack")
    figure["layout"]["yaxis"]["range"] = [0, 100]
    caption = f"Op placement, {_sources(data, variants, 'edgetpu_share')}."
    return Chart(f"chart-{data.slug}-share", title, figure, caption)


def class_ap_chart(data: ExperimentData) -> Chart | None:
    """COCO AP of every class, one bar per model (Keras, float, int8): where quantization
    costs accuracy."""
    keys = sorted(k for k in data.frame.columns if k.startswith(CLASS_AP_PREFIX))
    records = [r for r in model_order(data.records) if any(data.value(r.variant, k) for k in keys)]
    if not keys or not records:
        return None
    classes = [k.removeprefix(CLASS_AP_PREFIX) for k in keys]
    traces = []
    for record in records:
        values = [data.value(record.variant, k) for k in keys]
        traces.append(
            {
                "type": "bar",
                "name": record.variant,
                "x": classes,
                "y": [None if v is None or v < 0 else v for v in values],
                "hovertemplate": f"{record.variant}: %{{x}} AP %{{y:.3f}}<extra></extra>",
            }
        )
    title = "COCO AP per class"
    caption = (
        "AP over IoU .50:.95 of each class (pycocotools), per model; a class without test "
        f"objects has no bar. {_sources(data, [r.variant for r in records], keys[0])}."
    )
    figure = _figure(traces, title, "class", "AP", barmode="group")
    return Chart(f"chart-{data.slug}-class-ap", title, figure, caption)


def experiment_charts(data: ExperimentData) -> list[Chart]:
    present = set(data.frame.columns)
    accuracy = m.first_present(m.ACCURACY_KEYS, present)
    speed = m.first_present(m.SPEED_KEYS, present)
    latency = m.first_present(m.LATENCY_KEYS, present)
    charts = []
    if accuracy and speed:  # the speed axis first: what the Edge TPU would take
        charts.append(pareto_chart(data, speed, accuracy, "acc-edgetpu-latency"))
    if accuracy and "size_bytes" in present:
        charts.append(pareto_chart(data, "size_bytes", accuracy, "acc-size"))
    if accuracy and latency:
        charts.append(pareto_chart(data, latency, accuracy, "acc-latency"))
    charts += [size_chart(data), share_chart(data), class_ap_chart(data)]
    return [c for c in charts if c is not None]
