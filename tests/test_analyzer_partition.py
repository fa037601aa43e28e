"""Partitioning: which mappable ops the compiler keeps, and which CPU op cut off the rest."""

from __future__ import annotations

import time

import pytest
from test_analyzer_rules import analyze, conv
from tflite_builder import Op, T, build

from tpulens.analyzer import partition
from tpulens.analyzer.model import Operator, Subgraph
from tpulens.analyzer.vocabulary import Status
from tpulens.errors import InputError


def chain_with_cpu_op_in_middle() -> bytes:
    """conv a -> LEAKY_RELU (CPU) -> conv b -> conv c."""
    ta, oa = conv("in", "a")
    tb, ob = conv("l", "b")
    tc, oc = conv("b", "c")
    return build([T("in", (1, 8, 8, 4)), *ta, T("l", (1, 8, 8, 4)), *tb, *tc],
                 [oa, Op("LEAKY_RELU", ["a"], ["l"], 2), ob, oc])


def placements(result: dict) -> list[str]:
    return [o["placement"] for o in result["ops"]]


def test_ops_after_a_cpu_op_fall_out_and_point_to_it():
    result = analyze(chain_with_cpu_op_in_middle())
    assert placements(result) == ["TPU", "CPU", "CPU", "CPU"]
    after = result["ops"][2:]
    assert {o["status"] for o in after} == {Status.AFTER_PARTITION}
    assert {o["root_cause"] for o in after} == {1}
    assert "LEAKY_RELU #1" in after[0]["explanation"]
    assert result["summary"]["tpu_subgraphs"] == 1


def test_enable_multiple_subgraphs_maps_every_partition():
    result = analyze(chain_with_cpu_op_in_middle(), enable_multiple_subgraphs=True)
    assert placements(result) == ["TPU", "CPU", "TPU", "TPU"]
    assert result["summary"]["tpu_subgraphs"] == 2


def test_leading_cpu_ops_do_not_stop_the_tpu_subgraph():
    """CAST/QUANTIZE at the input run on the CPU; the Edge TPU part starts at their output."""
    ta, oa = conv("q", "a")
    result = analyze(build(
        [T("f", (1, 8, 8, 4), "FLOAT32", scale=None), T("q", (1, 8, 8, 4)), *ta],
        [Op("QUANTIZE", ["f"], ["q"]), oa]))
    assert placements(result) == ["CPU", "TPU"]
    assert result["ops"][0]["reason_code"] == "FLOAT_INPUT_QUANTIZE"


def test_branch_joining_after_a_cpu_op_leaves_only_the_join_on_cpu():
    """Like DeepLab: one branch hits a CPU op; the other branch still maps, the join does not."""
    ta, oa = conv("in", "a")
    tb, ob = conv("in", "b")
    tc, oc = conv("cat", "c", shape=(1, 8, 8, 8))
    result = analyze(build(
        [T("in", (1, 8, 8, 4)), *ta, *tb, T("l", (1, 8, 8, 4)), T("cat", (1, 8, 8, 8)), *tc],
        [oa, Op("LEAKY_RELU", ["a"], ["l"], 2), ob,
         Op("CONCATENATION", ["l", "b"], ["cat"], 1, "ConcatenationOptions", {"Axis": 3}), oc]))
    assert placements(result) == ["TPU", "CPU", "TPU", "CPU", "CPU"]
    assert [o["root_cause"] for o in result["ops"]] == [None, None, None, 1, 1]


def test_intermediate_tensors_end_the_tpu_subgraph():
    ta, oa = conv("in", "a")
    tb, ob = conv("a", "b")
    data = build([T("in", (1, 8, 8, 4)), *ta, *tb], [oa, ob])
    assert placements(analyze(data)) == ["TPU", "TPU"]
    result = analyze(data, intermediate_tensors=["a"])
    assert placements(result) == ["TPU", "CPU"]
    assert (result["ops"][1]["reason_code"], result["ops"][1]["root_cause"]) == (
        "INTERMEDIATE_TENSOR", 0)
    with pytest.raises(InputError, match="no tensor named 'nope'"):
        analyze(data, intermediate_tensors=["nope"])


def test_ops_whose_results_are_unused_are_dropped_not_mapped():
    """No compiler output shows where an op that feeds nothing goes: say so, unsure."""
    ta, oa = conv("in", "a")
    tb, ob = conv("in", "dead")
    result = analyze(build([T("in", (1, 8, 8, 4)), *ta, *tb], [oa, ob], outputs=["a"]))
    assert placements(result) == ["TPU", "dropped"]
    dead = result["ops"][1]
    assert (dead["reason_code"], dead["status"], dead["confidence"]) == ("DROPPED", "", "low")
    assert result["summary"]["ops_dropped"] == 1 and result["summary"]["ops_tpu"] == 1
    assert [r["count"] for r in result["table"]] == [1]
    live = analyze(build([T("in", (1, 8, 8, 4)), *ta, *tb], [oa, ob], outputs=["a", "dead"]))
    assert placements(live) == ["TPU", "TPU"]


def test_min_runtime_out_of_range_is_an_input_error():
    with pytest.raises(InputError, match="runtimes are 10 to 14"):
        analyze(chain_with_cpu_op_in_middle(), min_runtime_version=9)
    with pytest.raises(InputError, match="unknown Edge TPU compiler version"):
        analyze(chain_with_cpu_op_in_middle(), compiler="3.0")


def test_flags_the_compiler_did_not_have_yet_are_refused():
    with pytest.raises(InputError, match="needs compiler 15.0 or newer"):
        analyze(chain_with_cpu_op_in_middle(), compiler="14.1", enable_multiple_subgraphs=True)
    with pytest.raises(InputError, match="needs compiler 2.1 or newer"):
        analyze(chain_with_cpu_op_in_middle(), compiler="2.0", intermediate_tensors=["a"])


def test_ops_listed_in_reverse_order_partition_by_their_data():
    """Execution-list order is not data order (a red-team input lists a chain backwards)."""
    ta, oa = conv("in", "a")
    tb, ob = conv("l", "b")
    result = analyze(build([T("in", (1, 8, 8, 4)), *ta, T("l", (1, 8, 8, 4)), *tb],
                           [ob, Op("LEAKY_RELU", ["a"], ["l"], 2), oa]))
    assert placements(result) == ["CPU", "CPU", "TPU"]
    assert result["ops"][0]["root_cause"] == 1


def chain(n: int) -> Subgraph:
    """n ops a0 -> a1 -> ..., alternating mappable and not: the partitioner's worst case."""
    ops = [Operator(0, i, "RELU", None, 1, (i,), (i + 1,)) for i in range(n)]
    return Subgraph(0, "chain", [], ops, (0,), (n,))


def epochs_seconds(n: int) -> float:
    sg = chain(n)
    start = time.process_time()  # this process's CPU time: other work on the machine aside
    epoch_of = partition.epochs(partition.dataflow(sg), [i % 2 == 0 for i in range(n)])
    seconds = time.process_time() - start
    assert epoch_of == list(range(n))
    return seconds


def test_partitioning_an_alternating_chain_takes_linear_time():
    small = min(epochs_seconds(4_000) for _ in range(3))
    large = min(epochs_seconds(32_000) for _ in range(3))
    assert large < 24 * small  # linear: about 8x; quadratic: 64x


def test_a_cycle_leaves_its_ops_without_an_epoch():
    ops = [Operator(0, 0, "RELU", None, 1, (0, 2), (1,)),
           Operator(0, 1, "RELU", None, 1, (1,), (2,)),
           Operator(0, 2, "RELU", None, 1, (0,), (3,))]
    flow = partition.dataflow(Subgraph(0, "cycle", [], ops, (0,), (2, 3)))
    assert flow.stuck == (0, 1) and flow.has_cycle
    assert partition.epochs(flow, [True, True, True]) == [partition.NO_EPOCH,
                                                         partition.NO_EPOCH, 0]
