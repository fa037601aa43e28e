"""The fixed words tpulens speaks, defined once: the compiler's per-op status strings, where an
op runs, where a figure comes from, the model-level verdict, how sure a verdict is and how a
metric changed between runs. The rules, the log parser, the runners, the report and
`tpulens diff` all use these."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """The compiler's per-op status strings, byte for byte as `edgetpu_compiler -s` prints
    them (the log's "Status" column)."""

    MAPPED = "Mapped to Edge TPU"
    AFTER_PARTITION = "More than one subgraph is not supported"
    UNSPECIFIED = ("Operation is otherwise supported, but not mapped due to some unspecified "
                   "limitation")
    UNSUPPORTED_DTYPE = "Operation is working on an unsupported data type"
    UNSUPPORTED_OP = "Operation not supported"
    UNSUPPORTED_VERSION = "Operation version not supported"
    UNSUPPORTED_RANK = "Tensor has unsupported rank (up to 3 innermost dimensions mapped)"
    NON_CONST_PARAM = "Filter, bias, or other param is not constant at compile-time"
    OUTPUT_2D = "For example, a fully-connected or softmax layer with 2D output"


class Placement(StrEnum):
    TPU = "TPU"
    CPU = "CPU"
    DROPPED = "dropped"  # feeds no model output: no compiler output shows where it goes


class Source(StrEnum):
    """Where a number or a placement comes from."""

    MEASURED = "measured"  # run on this machine
    PREDICTED = "predicted"  # the tpulens analyzer, no compiler run
    COMPILER = "compiler"  # read from a compiled *_edgetpu.tflite
    LOG = "log"  # parsed from an edgetpu_compiler log


class Verdict(StrEnum):
    """The model as a whole: every op on the Edge TPU, some, none, or the compile fails."""

    FULL = "full"
    PARTIAL = "partial"
    NONE = "none"
    FAILS = "fails"


class Change(StrEnum):
    """What happened to a metric between two result sets (`tpulens diff`, regressions)."""

    BETTER = "better"
    WORSE = "worse"
    UNCHANGED = "unchanged"  # within the metric's threshold, or not beyond noise
    CHANGED = "changed"  # beyond the threshold, for a metric with no better direction
    NOT_JUDGED = "not judged"  # e.g. latency measured on different CPUs


class Confidence(StrEnum):
    """How sure a verdict is: high when a documented or observed rule decides it far from any
    fitted limit, low otherwise (the op's `confidence_reason` says why)."""

    HIGH = "high"
    LOW = "low"


class EvidenceKind(StrEnum):
    """Where a rule comes from."""

    DOCUMENTED = "documented"  # Coral's documentation, TFLite's source or a Coral maintainer
    OBSERVED = "observed"  # real compiler output: a compiled model or a compiler log
    INFERRED = "inferred"  # reasoned from indirect evidence, never seen in compiler output
