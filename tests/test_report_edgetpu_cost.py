"""The Edge TPU speed axis of the site: the overview's "fastest", the experiment tables and the
Pareto charts use the Edge TPU latency (measured on a device when there is one, else predicted
for USB 3.0) and say so; host-CPU latency stays its own column; a model that runs no op on the
Edge TPU never wins that axis; a model's page shows its parameter split and cost per device."""

from __future__ import annotations

import html
import json
import re

import plotly.graph_objects as go
import pytest
import sample_results as sample

from tpulens.metrics import bound_keys, est_latency_key
from tpulens.report.cost import cost_of
from tpulens.report.site import build_site

USB3, USB2 = est_latency_key("usb3"), est_latency_key("usb2")
LOW, HIGH = bound_keys(USB3)
PREDICTED = {"unit": "ms", "better": "lower", "source": "predicted"}
# Host CPU: float32 is fastest; on the Edge TPU it runs nothing, and int8 beats int8_wide.
VARIANTS = {
    "float32": {"accuracy": 0.90, "latency_ms_p50": 0.35, "edgetpu_ops_tpu": 0,
                "edgetpu_ops_cpu": 12},
    "int8": {"accuracy": 0.89, "latency_ms_p50": 0.60, "edgetpu_ops_tpu": 12,
             "edgetpu_ops_cpu": 0, USB3: 1.25, LOW: 1.0, HIGH: 1.5, USB2: 9.0,
             "edgetpu_param_on_chip_bytes": 180_000, "edgetpu_param_off_chip_bytes": 0},
    "int8_wide": {"accuracy": 0.91, "latency_ms_p50": 0.50, "edgetpu_ops_tpu": 12,
                  "edgetpu_ops_cpu": 0, USB3: 4.5, LOW: 3.6, HIGH: 5.4,
                  "edgetpu_param_on_chip_bytes": 7_800_000,
                  "edgetpu_param_off_chip_bytes": 2_200_000},
}
ESTIMATE = {
    "parameters": {"on_chip_bytes": 7_800_000, "off_chip_bytes": 2_200_000},
    "cycles": 1_500_000,
    "latency_ms": {"usb3": 4.5, "usb2": 41.0, "pcie": 3.0},
    "latency_range_ms": {"usb3": [3.6, 5.4], "usb2": [33.0, 49.0], "pcie": [2.4, 3.6]},
    "parts_ms": {
        "usb3": {"invoke": 0.3, "edgetpu": 3.0, "streamed_parameters": 0.9, "input_output": 0.3},
        "usb2": {"invoke": 0.3, "edgetpu": 3.0, "streamed_parameters": 36.0, "input_output": 1.7},
        "pcie": {"invoke": 0.2, "edgetpu": 2.5, "streamed_parameters": 0.2, "input_output": 0.1},
    },
    "source": "predicted",
}


def text_of(page: str) -> str:
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))
    return re.sub(r" ([:),.])", r"\1", text)


def write_experiment(results, variants: dict, analysis: str | None = None) -> None:
    for variant, metrics in variants.items():
        record = sample.record("q", variant, metrics, analysis=analysis if variant == "int8_wide"
                               else None)
        for key in metrics:
            if key.startswith("edgetpu_est"):
                record["metric_info"][key] = PREDICTED
        sample.write(results, f"q/{variant}.json", record)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("cost")
    results = root / "results"
    analysis = sample.chain_analysis("int8_wide.tflite", 12)
    analysis["summary"]["estimate"] = ESTIMATE
    sample.write(results, "analysis/q-int8_wide.json", analysis)
    write_experiment(results, VARIANTS, "analysis/q-int8_wide.json")
    return build_site(results, root / "site").out


def summary_row(page: str, experiment: str) -> list[str]:
    body = page[page.index('<table id="summary"') :]
    row = next(r for r in re.findall(r"<tr>(.*?)</tr>", body, re.S) if f">{experiment}<" in r)
    return [text_of(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def test_fastest_is_on_the_edge_tpu_and_says_so(site):
    page = (site / "index.html").read_text()
    cells = summary_row(page, "q")
    header = re.findall(r"<th>([^<]*)</th>", page[page.index('<table id="summary"') :])
    fastest = dict(zip(header, cells, strict=False))
    # float32 is fastest on the host but runs no op on the Edge TPU: int8 wins there.
    assert fastest["fastest on Edge TPU"] == (
        "int8: 1.250 ms (1.000 – 1.500) p Edge TPU latency (predicted, USB 3.0)"
    )
    assert fastest["fastest on host CPU"].startswith("float32: 0.350 ms m host CPU")
    overview = text_of(page)
    assert ("Edge TPU latency (predicted, USB 3.0) (lower is better): int8 "
            "1.250 ms (1.000 – 1.500) p Edge TPU, predicted") in overview
    assert "a USB Accelerator on a USB 3.0 host" in overview  # the caption names the host


def test_the_table_marks_models_that_run_nothing_on_the_edge_tpu(site):
    page = (site / "experiments/q.html").read_text()
    body = page[page.index('<table id="cmp-q"') : page.index("</table>")]
    header = re.findall(r"<th[^>]*>([^<]*)</th>", body)
    assert "Edge TPU latency (predicted, USB 3.0) ↓\n(ms)" in header
    assert "latency p50 ↓\n(ms)" in header  # the host-CPU column stays
    assert not any("end" in h for h in header)  # a range's ends are no columns of their own
    assert not any("USB 2.0" in h for h in header)  # the other hosts: on the model pages
    assert "predicted for the other hosts (USB 2.0, PCIe): on each model's" in text_of(page)
    rows = {
        text_of(r).split()[0]: r for r in re.findall(r"<tr>(.*?)</tr>", body, re.S)[1:]
    }
    assert "not on Edge TPU" in rows["float32"]
    assert "1.250 (1.000 – 1.500)" in text_of(rows["int8"])
    assert re.search(r'class="best" data-v="1.25" title="predicted, not measured: predicted '
                     r'time of one inference on a USB Accelerator on a USB 3.0 host', rows["int8"])


def test_the_quantization_table_puts_the_edge_tpu_latency_beside_the_host_one(tmp_path):
    results = tmp_path / "results"
    write_experiment(results, {v: dict(m, objective=0.0) for v, m in VARIANTS.items()})
    page = (build_site(results, tmp_path / "site").out / "experiments/q.html").read_text()
    table = page[page.index('<table id="quant-q"') :]
    table = table[: table.index("</table>")]
    header = re.findall(r"<th[^>]*>([^<]*)</th>", table)
    assert header[2:4] == ["host CPU ms / image", "Edge TPU latency (predicted, USB 3.0) ms"]
    rows = [text_of(r).split() for r in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]]
    assert rows[0][:8] == ["float32", "90.00", "m", "0.350", "m", "not", "on", "Edge"]
    assert rows[1][:9] == ["int8", "89.00", "m", "0.600", "m", "1.250", "(1.000", "–", "1.500)"]


def chart(page: str, chart_id: str) -> dict:
    found = re.search(rf'data-chart="{chart_id}">(.*?)</script>', page, re.S)
    return json.loads(found.group(1))


def test_the_pareto_chart_plots_edge_tpu_latency_with_its_range(site):
    page = (site / "experiments/q.html").read_text()
    figure = chart(page, "chart-q-acc-edgetpu-latency")
    go.Figure(figure)
    points, front = figure["data"]
    assert points["text"] == ["int8", "int8_wide"]  # float32 has no point
    assert points["x"] == [1.25, 4.5]
    assert points["error_x"]["arrayminus"] == pytest.approx([0.25, 0.9])
    assert points["error_x"]["array"] == pytest.approx([0.25, 0.9])
    assert front["text"] == ["int8", "int8_wide"]  # faster, or more accurate
    x_title = figure["layout"]["xaxis"]["title"]["text"]
    assert x_title == "Edge TPU latency (predicted, USB 3.0) (ms)"
    caption = text_of(page[page.index('id="chart-q-acc-edgetpu-latency"') :]).split(" Pareto")[1]
    assert "Not on the Edge TPU (no op maps there, so no point): float32." in caption
    host = chart(page, "chart-q-acc-latency")
    assert host["data"][0]["text"] == ["float32", "int8", "int8_wide"]


def test_a_measured_edge_tpu_latency_wins_over_the_predicted_one(tmp_path):
    results = tmp_path / "results"
    measured = {v: dict(m, edgetpu_latency_ms_p50=m[USB3] * 2)
                for v, m in VARIANTS.items() if USB3 in m}
    measured["int8"]["edgetpu_latency_ms_p50"] = 20.0  # slower on the device than predicted
    write_experiment(results, {**VARIANTS, **measured})
    for variant in measured:
        record = json.loads((results / f"q/{variant}.json").read_text())
        record["metric_info"]["edgetpu_latency_ms_p50"] = {"unit": "ms", "better": "lower",
                                                          "source": "measured"}
        sample.write(results, f"q/{variant}.json", record)
    page = (build_site(results, tmp_path / "site").out / "index.html").read_text()
    cells = summary_row(page, "q")
    assert "int8_wide: 9.000 ms m Edge TPU latency p50" in cells


def test_the_model_page_shows_the_parameter_split_and_what_dominates(site):
    page = text_of((site / "models/q-int8_wide.html").read_text())
    assert "Parameter memory 7.44 MiB cached on-chip; 2.10 MiB streamed at every inference" in page
    assert "Edge TPU cycles 1,500,000" in page
    # USB 3.0 first (the default), then each host with the part that dominates its latency.
    usb3 = page.index("Latency, USB 3.0 4.500 ms (3.600 – 5.400 ms), mostly Edge TPU compute")
    usb2 = page.index("Latency, USB 2.0 41.000 ms (33.000 – 49.000 ms), mostly parameters "
                      "streamed over the link (88 %)")
    assert usb3 < usb2
    index = (site / "models/index.html").read_text()
    row = re.search(r'<tr><td><a href="q-int8_wide.html">.*?</tr>', index).group(0)
    assert [text_of(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row)][-2:] == [
        "4.500", "2.10 MiB"]


def test_a_model_page_says_when_nothing_runs_on_the_edge_tpu(tmp_path):
    results = tmp_path / "results"
    ops = [sample.op(i, "CONV_2D", "CPU", sample.UNSUPPORTED, "DTYPE") for i in range(3)]
    sample.write(results, "analysis/q-float32.json", sample.analysis("float32.tflite", ops))
    record = sample.record("q", "float32", VARIANTS["float32"], analysis="analysis/q-float32.json")
    sample.write(results, "q/float32.json", record)
    page = text_of((build_site(results, tmp_path / "site").out / "models/q-float32.html")
                   .read_text())
    assert "No op of this model runs on the Edge TPU, so it has no Edge TPU cost" in page
    assert "Cost on the Edge TPU" not in page
    index = text_of((tmp_path / "site/models/index.html").read_text())
    assert "float32.tflite) predicted 3 0 3 0 none not on Edge TPU –" in index


def test_an_estimate_not_in_the_contract_is_not_shown():
    assert cost_of({}) is None and cost_of({"estimate": None}) is None
    assert cost_of({"estimate": {"parameters": {"on_chip_bytes": -1, "off_chip_bytes": 0},
                                 "latency_ms": {}}}) is None
    cost = cost_of({"estimate": dict(ESTIMATE, latency_ms={"usb2": "fast", "pcie": 3.0})})
    assert [d.link for d in cost.devices] == ["pcie"]
    assert cost.devices[0].dominant.label == "Edge TPU compute"


def test_parameter_memory_reads_like_the_compilers_log():
    def memory(on_chip: int, off_chip: int) -> str:
        params = {"on_chip_bytes": on_chip, "off_chip_bytes": off_chip}
        return cost_of({"estimate": dict(ESTIMATE, parameters=params)}).memory

    assert memory(214_464, 0) == "209.44 KiB cached on-chip; none streamed (all fit on-chip)"
    assert memory(0, 3 * 2**20) == "0 B cached on-chip; 3.00 MiB streamed at every inference"
    assert memory(881_408, 32) == "860.75 KiB cached on-chip; 32 B streamed at every inference"


def test_the_parts_table_lists_what_costs_time_on_some_host():
    parts = {link: dict(split, crossings=0.0) for link, split in ESTIMATE["parts_ms"].items()}
    parts["usb2"]["invoke"] = 0.0
    cost = cost_of({"estimate": dict(ESTIMATE, parts_ms=parts)})
    rows = {label: [p and p.ms for p in row] for label, row in cost.part_rows}
    assert list(rows)[0] == "Edge TPU compute"  # the largest on USB 3.0 first
    assert "tensors crossing between CPU and Edge TPU" not in rows  # no time anywhere
    assert rows["invoke overhead"] == [0.3, None, 0.2]  # hosts in order: USB 3.0, 2.0, PCIe


def test_the_compare_page_gives_the_range_and_no_range_end_as_a_metric(site):
    page = (site / "compare/q.html").read_text()
    payload = json.loads(re.search(r'id="compare-data">(.*?)</script>', page, re.S).group(1))
    assert [m["key"] for m in payload["metrics"] if m["key"].startswith("edgetpu_est")] == [
        USB3, USB2]
    int8 = next(e for e in payload["entries"] if e["variant"] == "int8")
    assert int8["metrics"][USB3][:2] == [1.25, "1.250 ms (1.000 – 1.500)"]
