"""Plotly figures for an experiment, serialised as JSON for the site's shared chart loader.

Pages embed only the figure JSON; plotly.js is one shared asset. Div ids derive from the
experiment slug, so identical inputs give identical bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go

from report import metrics as m
from report.tables import ExperimentData

TPU_COLOR, CPU_COLOR, FRONT_COLOR, POINT_COLOR = "#2e7d32", "#ef6c00", "#c62828", "#1565c0"


@dataclass
class Chart:
    id: str
    title: str
    figure_json: str
    caption: str


def figure_json(fig: go.Figure) -> str:
    """Figure JSON safe to place inside a <script type="application/json"> element."""
    text = fig.to_json(pretty=False, validate=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _layout(fig: go.Figure, title: str, x: str, y: str) -> go.Figure:
    fig.update_layout(
        template="none", title={"text": title, "x": 0.01}, height=360,
        margin={"l": 70, "r": 20, "t": 50, "b": 60},
        font={"family": "system-ui, sans-serif", "size": 12},
        xaxis={"title": {"text": x}, "gridcolor": "#e5e5e5", "zeroline": False},
        yaxis={"title": {"text": y}, "gridcolor": "#e5e5e5", "zeroline": False},
        legend={"orientation": "h", "y": -0.25}, hovermode="closest",
    )
    return fig


def _sources(data: ExperimentData, variants: list[str], key: str) -> str:
    found = sorted({data.source(v, key) or "unrecorded" for v in variants})
    return "/".join(found)


def pareto_chart(data: ExperimentData, x_key: str, y_key: str, kind: str) -> Chart | None:
    """Accuracy against a cost, with the non-dominated variants joined and marked."""
    ok = [r.variant for r in data.records if r.status == "ok"]
    pts = [(v, data.value(v, x_key), data.value(v, y_key)) for v in ok]
    pts = [(v, x, y) for v, x, y in pts if x is not None and y is not None]
    if not pts:
        return None
    x_meta, y_meta = data.metas[x_key], data.metas[y_key]
    scale = 1 / 1024 if x_meta.unit == "bytes" else 1
    x_label = f"{x_meta.label} ({'KiB' if scale != 1 else x_meta.unit})"
    y_scale = 100 if y_meta.unit == "fraction" else 1
    y_label = f"{y_meta.label}" + (" (%)" if y_scale == 100 else "")
    xs = [x * scale for _, x, _ in pts]
    ys = [y * y_scale for _, _, y in pts]
    names = [v for v, _, _ in pts]
    front = m.pareto_front([(x, y) for _, x, y in pts], x_meta.better if x_meta.better != "none"
                           else "lower", y_meta.better if y_meta.better != "none" else "higher")
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=xs, y=ys, text=names, mode="markers+text", name="variant",
                             textposition="top center", marker={"size": 9, "color": POINT_COLOR},
                             hovertemplate="%{text}<br>%{x:.4g}, %{y:.4g}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[xs[i] for i in front], y=[ys[i] for i in front],
                             mode="lines+markers", name="Pareto front",
                             line={"color": FRONT_COLOR, "dash": "dot"},
                             marker={"size": 13, "symbol": "diamond-open", "color": FRONT_COLOR},
                             hoverinfo="skip"))
    title = f"{y_meta.label} vs {x_meta.label}"
    _layout(fig, title, x_label, y_label)
    caption = (f"Pareto front: {', '.join(names[i] for i in front)}. "
               f"x {_sources(data, names, x_key)}, y {_sources(data, names, y_key)}.")
    return Chart(f"chart-{data.slug}-{kind}", title, figure_json(fig), caption)


def size_chart(data: ExperimentData) -> Chart | None:
    variants = [v for v in data.variants if data.value(v, "size_bytes") is not None
                or data.value(v, "gzip_bytes") is not None]
    if not variants or "gzip_bytes" not in data.frame.columns:
        return None
    fig = go.Figure()
    for key, color in (("size_bytes", "#90a4ae"), ("gzip_bytes", POINT_COLOR)):
        values = [data.value(v, key) for v in variants]
        fig.add_trace(go.Bar(x=variants, y=[None if x is None else x / 1024 for x in values],
                             name=data.metas[key].label if key in data.metas else key,
                             marker={"color": color}))
    _layout(fig, "size vs gzip size", "variant", "KiB")
    fig.update_layout(barmode="group")
    caption = f"Sizes {_sources(data, variants, 'size_bytes')} from the .tflite files."
    return Chart(f"chart-{data.slug}-size", "size vs gzip size", figure_json(fig), caption)


def share_chart(data: ExperimentData) -> Chart | None:
    variants = [v for v in data.variants if data.value(v, "edgetpu_share") is not None]
    if not variants:
        return None
    shares = [data.value(v, "edgetpu_share") * 100 for v in variants]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=variants, y=shares, name="on Edge TPU", marker={"color": TPU_COLOR}))
    fig.add_trace(go.Bar(x=variants, y=[100 - s for s in shares], name="on CPU",
                         marker={"color": CPU_COLOR}))
    _layout(fig, "Edge TPU mapped share", "variant", "% of ops")
    fig.update_layout(barmode="stack", yaxis={"range": [0, 100]})
    caption = f"Op placement {_sources(data, variants, 'edgetpu_share')}."
    return Chart(f"chart-{data.slug}-share", "Edge TPU mapped share", figure_json(fig), caption)


def experiment_charts(data: ExperimentData) -> list[Chart]:
    present = set(data.frame.columns)
    accuracy = m.first_present(m.ACCURACY_KEYS, present)
    latency = m.first_present(m.LATENCY_KEYS, present)
    charts = []
    if accuracy and "size_bytes" in present:
        charts.append(pareto_chart(data, "size_bytes", accuracy, "acc-size"))
    if accuracy and latency:
        charts.append(pareto_chart(data, latency, accuracy, "acc-latency"))
    charts += [size_chart(data), share_chart(data)]
    return [c for c in charts if c is not None]
