"""The op graph of a diagnostics page (report/op_graph.py, report/graph_layout.py): one linked
node per op, Edge TPU subgraphs outlined exactly as the analyzer partitions them, root causes
and low-confidence verdicts marked, inputs at the top, identical bytes for identical input,
hostile names inert, and no graph (with a reason) when Graphviz is missing or the model is too
large."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET

import pytest
import sample_graphs as graphs
import sample_results as sample

from tpulens.analyzer.analyze import analyze_file
from tpulens.report.graph_layout import Cluster, Node, dot_binary, layered
from tpulens.report.load import normalize_analysis
from tpulens.report.op_graph import MAX_OPS, MAX_OUTLINES, as_subgraph, op_graph, tpu_partitions
from tpulens.report.op_groups import root_cause_counts

SVG = "{http://www.w3.org/2000/svg}"
DEEPLAB = "pairs/edgetpu/deeplabv3_mnv2_pascal_quant.tflite"
TRANSFORMER = "pairs/Coral-TPU@2facb8a/transformer/efficient_l3.tflite"
HOSTILE = '"><script>window.__pwned=1</script>'
needs_dot = pytest.mark.skipif(
    dot_binary() is None, reason="Graphviz `dot` not installed (apt-get install graphviz)"
)


def drawn(data: dict) -> ET.Element:
    graph = op_graph(data)
    assert graph.note == "" and graph.svg
    return ET.fromstring(graph.svg)


def op_nodes(svg: ET.Element) -> list[ET.Element]:
    return svg.findall(f".//{SVG}a[@data-op]")


def classes(element: ET.Element) -> set[str]:
    return set(element.get("class", "").split())


def box(element: ET.Element) -> tuple[float, float, float, float]:
    rect = element if element.tag == f"{SVG}rect" else element.find(f"{SVG}rect")
    x, y = float(rect.get("x")), float(rect.get("y"))
    return x, y, x + float(rect.get("width")), y + float(rect.get("height"))


def inside(inner, outer) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and (
        inner[3] <= outer[3]
    )


def partition_boxes(svg: ET.Element) -> list[tuple]:
    return [box(r) for r in svg.iter(f"{SVG}rect") if "part" in classes(r)]


def analysis_of(corpus, rel: str, **options) -> dict:
    return normalize_analysis(analyze_file(corpus / rel, **options))


@needs_dot
def test_a_real_model_has_one_linked_node_per_op_and_its_root_causes_marked(corpus):
    data = analysis_of(corpus, DEEPLAB)
    svg = drawn(data)
    nodes = op_nodes(svg)
    assert len(nodes) == len(data["ops"])
    for node, op in zip(nodes, data["ops"], strict=True):
        assert node.get("data-op") == str(op["index"])
        assert node.get("href") == f"#op-{op['subgraph']}-{op['index']}"
        assert {"tpu": "TPU", "cpu": "CPU"}[(classes(node) & {"tpu", "cpu"}).pop()] == op[
            "placement"
        ]
    causes = root_cause_counts(data["ops"])
    assert causes, "the model has ops pushed off the Edge TPU"
    marked = {(0, int(n.get("data-op"))) for n in nodes if "rc" in classes(n)}
    assert marked == set(causes)
    for node in nodes:
        if "rc" in classes(node):
            assert "".join(node.itertext()).endswith("!")
            assert f"root cause: {causes[(0, int(node.get('data-op')))]} later ops" in (
                node.find(f"{SVG}title").text
            )
    # One outline, around every Edge TPU op and no CPU op.
    (outline,) = partition_boxes(svg)
    for node in nodes:
        assert inside(box(node), outline) == ("tpu" in classes(node))
    crossing = svg.findall(f".//{SVG}path[@class='edge cross']")
    assert crossing, "edges from the Edge TPU to the CPU stand out"


@needs_dot
def test_with_multiple_subgraphs_each_edge_tpu_subgraph_has_its_own_outline(corpus):
    data = analysis_of(corpus, TRANSFORMER, enable_multiple_subgraphs=True)
    graph = op_graph(data)
    assert graph.partitions == data["summary"]["tpu_subgraphs"] > 1
    svg = ET.fromstring(graph.svg)
    outlines = partition_boxes(svg)
    assert len(outlines) == graph.partitions
    for node in op_nodes(svg):
        holding = [o for o in outlines if inside(box(node), o)]
        assert len(holding) == ("tpu" in classes(node))


def test_partitions_are_the_analyzers_on_every_corpus_model(corpus):
    """Recomputed from the placements alone, the partitions count as many Edge TPU subgraphs
    as the analyzer reports, with and without -a, and hold every Edge TPU op once."""
    checked = 0
    models = [p for p in sorted(corpus.rglob("*.tflite")) if not p.stem.endswith("_edgetpu")]
    for path in models:
        for multiple in (False, True):
            raw = analyze_file(path, enable_multiple_subgraphs=multiple)
            ops = [op for op in normalize_analysis(raw)["ops"] if op["subgraph"] == 0]
            parts = tpu_partitions(as_subgraph(ops), [op["placement"] for op in ops])
            assert len(parts) == raw["summary"]["tpu_subgraphs"], (path.name, multiple)
            members = sorted(i for part in parts for i in part)
            assert members == [i for i, op in enumerate(ops) if op["placement"] == "TPU"]
            checked += 1
    assert checked >= 100


def cut_graph() -> dict:
    """A(TPU) -> X(CPU) -> B(TPU) with a skip A -> B: two delegate subgraphs, not one."""
    ops = [
        graphs.op(0, "CONV_2D", ["input"], "a"),
        graphs.op(1, "CUSTOM", ["a"], "x", custom_code="Cut", **graphs.cpu()),
        graphs.op(2, "ADD", ["x", "a"], "b"),
    ]
    return normalize_analysis(sample.analysis("cut.tflite", ops))


def test_a_skip_connection_around_a_cpu_op_does_not_join_two_partitions():
    data = cut_graph()
    ops = data["ops"]
    assert tpu_partitions(as_subgraph(ops), [op["placement"] for op in ops]) == [[0], [2]]


@needs_dot
def test_inputs_at_the_top_and_dataflow_downwards():
    data = normalize_analysis(graphs.branching_analysis("b.tflite", 120))
    svg = drawn(data)
    top = {int(n.get("data-op")): box(n)[1] for n in op_nodes(svg)}
    assert min(top, key=top.get) == 0
    for op in data["ops"]:
        for tensor in op["input_tensors"]:
            writer = int(tensor["name"].rsplit("_", 1)[1]) if tensor["name"] != "input" else None
            if writer is not None:
                assert top[writer] < top[op["index"]]


@needs_dot
def test_identical_input_gives_identical_bytes():
    data = normalize_analysis(graphs.branching_analysis("b.tflite", 300, seed=3))
    first = op_graph(data).svg
    assert op_graph(copy.deepcopy(data)).svg == first
    again = normalize_analysis(graphs.branching_analysis("b.tflite", 300, seed=3))
    assert op_graph(again).svg == first


@needs_dot
def test_low_confidence_verdicts_are_marked_and_the_field_is_optional():
    raw = graphs.branching_analysis("b.tflite", 100)
    low = {op["index"] for op in raw["ops"] if op.get("confidence") == "low"}
    assert low
    svg = drawn(raw)  # as the analyzer writes it, confidence included
    for node in op_nodes(svg):
        index = int(node.get("data-op"))
        assert ("low" in classes(node)) == (index in low)
        if index in low:
            assert "low confidence: near an empirical size limit" in node.find(f"{SVG}title").text
    without = copy.deepcopy(raw)
    for op in without["ops"]:
        op.pop("confidence", None)
    assert not any("low" in classes(n) for n in op_nodes(drawn(without)))


@needs_dot
def test_hostile_names_are_inert_text():
    long_name = "n" * 5000
    ops = [
        graphs.op(0, HOSTILE, ["in\x00put\ud800"], HOSTILE),
        graphs.op(1, "CUSTOM", [HOSTILE], long_name, custom_code=HOSTILE, **graphs.cpu()),
        graphs.op(2, "ADD", [long_name, "\x1b[31m'"], "out", status=HOSTILE),
    ]
    data = normalize_analysis(sample.analysis(HOSTILE, ops))
    graph = op_graph(data)
    graph.svg.encode("utf-8")  # no lone surrogate left
    svg = ET.fromstring(graph.svg)  # well-formed: every name escaped
    assert not [e for e in svg.iter() if e.tag.endswith("script")]
    assert not [a for e in svg.iter() for a in e.attrib if a.lower().startswith("on")]
    nodes = op_nodes(svg)
    assert len(nodes) == 3
    assert HOSTILE in nodes[0].find(f"{SVG}title").text
    assert len(svg.findall(f".//{SVG}path")) >= 2 + 1  # the two edges (and the arrow marker)
    assert max(len(t) for t in "".join(svg.itertext()).splitlines()) < 200


def test_without_graphviz_the_page_still_builds_and_says_why(monkeypatch):
    data = cut_graph()
    monkeypatch.setattr("shutil.which", lambda name: None)
    graph = op_graph(data)
    assert graph.svg == "" and "Graphviz `dot` is not installed" in graph.note
    graph = op_graph(data, dot="/nonexistent/dot")
    assert graph.svg == "" and "could not run" in graph.note


def test_no_layout_beyond_the_size_limit_and_none_for_a_log_analysis():
    data = normalize_analysis(sample.chain_analysis("big.tflite", MAX_OPS + 1))
    graph = op_graph(data, dot="/nonexistent/dot")  # never started
    assert graph.svg == "" and f"more than the {MAX_OPS:,}" in graph.note
    assert "no per-op rows" in op_graph({"ops": []}).note


@needs_dot
def test_each_subgraph_in_its_own_frame_and_a_cycle_still_drawn():
    ops = [
        graphs.op(0, "WHILE", ["input"], "w"),
        graphs.op(1, "CONV_2D", ["w"], "out"),
        graphs.op(0, "ADD", ["loop_b"], "loop_a"),  # a cycle: each reads the other
        graphs.op(1, "MUL", ["loop_a"], "loop_b"),
    ]
    for op in ops[2:]:
        op["subgraph"] = 1
    svg = drawn(normalize_analysis(sample.analysis("sg.tflite", ops)))
    frames = [r for r in svg.iter(f"{SVG}rect") if "sg" in classes(r)]
    assert len(frames) == 2
    nodes = op_nodes(svg)
    assert [(n.get("data-subgraph"), n.get("data-op")) for n in nodes] == [
        ("0", "0"),
        ("0", "1"),
        ("1", "0"),
        ("1", "1"),
    ]
    for node, frame in zip(nodes, (0, 0, 1, 1), strict=True):
        assert inside(box(node), box(frames[frame]))


@needs_dot
def test_layout_keeps_a_cluster_in_one_box():
    nodes = [Node(f"n{i}", 60, 20) for i in range(5)]
    edges = [("n0", "n1"), ("n1", "n2"), ("n0", "n3"), ("n3", "n4")]
    layout = layered(nodes, edges, [Cluster("c", ("n0", "n1", "n2"))])
    cluster = layout.clusters["c"]
    outer = (cluster.x, cluster.y, cluster.x + cluster.width, cluster.y + cluster.height)
    for name, b in layout.nodes.items():
        corners = (b.x, b.y, b.x + b.width, b.y + b.height)
        assert inside(corners, outer) == (name in ("n0", "n1", "n2"))
    assert {(e.tail, e.head) for e in layout.edges} == set(edges)
    assert all(e.path.startswith("M") for e in layout.edges)


@needs_dot
def test_too_many_outlines_are_left_out_and_said():
    ops = [sample.op(i, "ADD", "TPU", sample.MAPPED) for i in range(2 * (MAX_OUTLINES + 1))]
    for i, op in enumerate(ops):
        op["subgraph"] = i // 4  # 51 subgraphs, each framed with its own partition
    graph = op_graph(normalize_analysis(sample.analysis("many.tflite", ops)))
    assert "102 outlines" in graph.note and "not outlined" in graph.note
    svg = ET.fromstring(graph.svg)
    assert len(op_nodes(svg)) == len(ops)
    assert not [r for r in svg.iter(f"{SVG}rect") if classes(r) & {"part", "sg"}]
