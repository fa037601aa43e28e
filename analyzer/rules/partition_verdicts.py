"""The verdicts the partitioner gives to ops that pass every op check: cut off by an earlier
CPU op, after an -i tensor, or dead. They have no check of their own."""

from __future__ import annotations

from tpulens.analyzer.rules.registry import DOCUMENTED, INFERRED, Evidence, partition_verdict
from tpulens.analyzer.rules.tables import FLAG_A, FLAG_I
from tpulens.analyzer.vocabulary import Status

AFTER_PARTITION = partition_verdict(
    "after_partition", Status.AFTER_PARTITION, "AFTER_PARTITION",
    "An op that could run on the Edge TPU but lies outside the first Edge TPU subgraph (a CPU "
    "op comes before it on some path) stays on the CPU: without -a the compiler maps one Edge "
    "TPU subgraph only.",
    f"Fix the op that cuts the subgraph, or try {FLAG_A} (compiler 15+) to map later parts "
    "as extra Edge TPU subgraphs.",
    Evidence(DOCUMENTED, "coral:models-intro#compiling", "google-coral/edgetpu#461",
             "google-coral/edgetpu#30"))
INTERMEDIATE_TENSOR = partition_verdict(
    "intermediate_tensor", Status.AFTER_PARTITION, "INTERMEDIATE_TENSOR",
    f"An op that reads a tensor named in {FLAG_I} (or a result of one) runs on the CPU: the "
    "compiler ends the Edge TPU subgraph at those tensors.",
    f"Drop the tensor from {FLAG_I} to map this op.",
    Evidence(DOCUMENTED, "coral:compiler#intermediate-tensors", "google-coral/edgetpu#530"))
DROPPED = partition_verdict(
    "dropped", "", "DROPPED",
    "An op whose results reach no model output does no useful work; no compiler output shows "
    "whether the compiler keeps it, so it is reported as dropped, not as mapped.",
    "Remove the dead op from the graph before converting.",
    Evidence(INFERRED, "tflite:graph_info.cc"))


