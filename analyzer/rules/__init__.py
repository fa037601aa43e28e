"""The Edge TPU rule table, and the order in which its checks win.

One function per constraint, its docstring the rule's text: op checks (op_checks), whole-model
refusals (model_checks), the verdicts the partitioner gives (partition_verdicts) and the fix
advice chosen by an op's place in the model (fix_advice). Each is registered with the
compiler's status string, a stable reason code, a concrete fix and its evidence (documented,
observed or inferred, with citations that resolve from docs/edgetpu-rules.md); the numbers
they read are in tables. One table drives the analysis, `tpulens rules`, the site's
supported-ops page and one test per rule (the Arm Vela pattern).

CHECK_ORDER alone says which check wins: moving a function between files changes no verdict.
"""

from __future__ import annotations

from functools import cache

from tpulens.analyzer.rules import fix_advice, model_checks, op_checks
from tpulens.analyzer.rules.model_checks import flow_of, model_quantized
from tpulens.analyzer.rules.partition_verdicts import AFTER_PARTITION, DROPPED, INTERMEDIATE_TENSOR
from tpulens.analyzer.rules.registry import (
    INFERRED,
    REGISTERED,
    ConfidenceReason,
    Doubt,
    Evidence,
    Limit,
    OpContext,
    Rule,
    Scope,
    rule,
)
from tpulens.analyzer.rules.tables import (
    FLAG_A,
    FLAG_I,
    FLAG_M,
    FLOATS,
    QUANTIZED,
    SUBSTITUTES,
    SUPPORTED_OPS,
    refused_tensors,
    since_16,
)

# The order in which checks win: a model gets the error of the first model check it fails (the
# compiler stops there), an op the status of the first op check it breaks (the subgraph, data
# types, the op type and its version, shapes, per-op constraints, sizes), a CPU op the fix of
# the first advice that answers.
CHECK_ORDER = (
    model_checks.has_operators,
    model_checks.model_quantized,
    model_checks.parsable_op_versions,
    model_checks.static_shapes,
    model_checks.acyclic,
    op_checks.main_subgraph_only,
    op_checks.quantize_from_integer,
    op_checks.eight_bit_tensors,
    op_checks.supported_operation,
    op_checks.op_in_target_runtime,
    op_checks.op_version,
    op_checks.kernel_version,
    op_checks.three_innermost_dims,
    op_checks.constant_weights,
    op_checks.one_dimensional_output,
    op_checks.no_fused_activation,
    op_checks.equal_dilation,
    op_checks.no_dilation_on_old_runtimes,
    op_checks.plain_strided_slice,
    op_checks.concat_constant_is_zero_pad,
    op_checks.reduce_height_width_on_old_runtimes,
    op_checks.reduction_axes,
    op_checks.pad_dimensions,
    op_checks.split_not_along_first_axis,
    op_checks.squeeze_without_relayout,
    op_checks.softmax_size,
    op_checks.prelu_alpha_per_channel,
    op_checks.default_weights_format,
    op_checks.bilinear_resize_ratio,
    op_checks.transpose_size,
    op_checks.reshape_size,
    op_checks.row_size,
    fix_advice.custom_op_advice,
    fix_advice.cpu_tail_advice,
)


def _in_order() -> list[Rule]:
    """Every rule, by scope (op checks, model checks, partition verdicts, advice), each scope
    in CHECK_ORDER's order (the partition verdicts, which have no check, as registered)."""
    by_check = {r.check: r for r in REGISTERED if r.check is not None}
    ordered = [by_check[check] for check in CHECK_ORDER]
    ordered += [r for r in REGISTERED if r.scope == Scope.PARTITION]
    scopes = list(Scope)
    return sorted(ordered, key=lambda r: scopes.index(r.scope))


RULES: list[Rule] = _in_order()


@cache
def checks_for(opcode: str) -> tuple[Rule, ...]:
    """The op rules that apply to an op type, in check order (cached: called once per op)."""
    return tuple(r for r in RULES if r.scope == Scope.OP and r.applies_to(opcode))


@cache
def limits_for(opcode: str) -> tuple[Limit, ...]:
    """The empirical limits of the op rules that apply to an op type, in check order."""
    return tuple(r.limit for r in checks_for(opcode) if r.limit is not None)


@cache
def of_scope(scope: Scope) -> tuple[Rule, ...]:
    return tuple(r for r in RULES if r.scope == scope)


def rules_changed() -> None:
    """Forget the rule lists kept per op type and scope: call after changing RULES (as a
    refit of the fitted limits does)."""
    for kept in (checks_for, limits_for, of_scope):
        kept.cache_clear()


# What callers use as rules.X (the rest is read from the modules: rules.tables.X ...).
__all__ = [
    "AFTER_PARTITION", "CHECK_ORDER", "DROPPED", "FLAG_A", "FLAG_I", "FLAG_M", "FLOATS", "INFERRED",
    "INTERMEDIATE_TENSOR", "QUANTIZED", "RULES", "SUBSTITUTES", "SUPPORTED_OPS",
    "ConfidenceReason", "Doubt", "Evidence", "Limit", "OpContext", "Rule", "Scope", "checks_for",
    "flow_of", "limits_for", "model_quantized", "of_scope", "refused_tensors", "rule",
    "rules_changed", "since_16",
]
