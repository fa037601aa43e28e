"""Edge TPU latency per device, from the cost of each part of one inference.

The figure is model execution as Coral's benchmarks measure it: one `Invoke` of a model whose
parameter cache is already warm (the first inference also loads the cached parameters: see
`cache_load_ms`), input tensor already in host memory, no pre- or post-processing outside the
model. Ops of the model left on the CPU are included (Coral's SSD figures include the CPU
`TFLite_Detection_PostProcess`).

    latency = invoke overhead (per Edge TPU subgraph)
            + Edge TPU time (compiler cycles at the chip clock)
            + streamed parameters over the link (off-chip bytes, every inference)
            + instructions over the link (the runtime sends them at every inference)
            + input and output of the Edge TPU subgraphs over the link
            + tensors crossing between CPU and Edge TPU over the link
            + ops left on the CPU (per-op host model)

Every constant is physical; its evidence is in the comment beside it. The fitted ones (link
throughputs, invoke overheads) are fitted by tools/fit_latency.py to Coral's published
latencies and stay inside the physical bound they carry.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import NamedTuple

from tpulens.analyzer.model import Model, Subgraph

MS = 1e3

# Documented: libedgetpu's Beagle (Edge TPU) driver sets the core ("GCB") clock to 500 MHz at
# PerformanceExpectation_Max, 250 MHz at High (google-coral/libedgetpu,
# driver/beagle/beagle_top_level_handler.cc). The "max" runtime (libedgetpu1-max) and every
# PCIe device run at Max; the "std" runtime throttles the USB Accelerator to High. Coral's
# benchmark figures are only consistent with 500 MHz: MobileNet v1 1.0 224 (the corpus's
# compiled embedding extractor, the classifier less its last layer) carries 685 k compiler
# cycles, 2.7 ms at 250 MHz, and the classifier was measured at 2.2 ms on USB 3.0.
MAX_CLOCK_HZ = 500e6  # the std runtime's 250 MHz would double the Edge TPU part


class Link(StrEnum):
    """How the Edge TPU is attached to its host."""

    USB3 = "usb3"  # USB Accelerator on a USB 3.0 port (a desktop host in Coral's table)
    USB2 = "usb2"  # USB Accelerator on USB 2.0 (Raspberry Pi 3, Dev Board Mini)
    PCIE = "pcie"  # M.2 / mini PCIe Accelerator, the Dev Board's SoM (Gen2 x1)


class Host(NamedTuple):
    """The host CPU that runs the TFLite interpreter, the Edge TPU runtime and CPU ops."""

    name: str
    macs_per_s: float  # int8 multiply-accumulates per second of TFLite's CPU kernels
    elements_per_s: float  # tensor elements per second of an element-wise built-in op
    custom_elements_per_s: float  # input elements per second of a custom op (detection NMS)
    op_overhead_s: float  # per CPU op: dispatch and a kernel's fixed work
    invoke_overhead_s: float  # per Edge TPU subgraph: interpreter, runtime, driver, completion


class DeviceModel(NamedTuple):
    """An Edge TPU behind a link, driven by a host."""

    link: Link
    host: Host
    clock_hz: float  # Edge TPU core clock
    link_bytes_per_s: float  # payload throughput of the link, both directions


class CpuOp(NamedTuple):
    """The work of one op left on the CPU."""

    macs: int
    elements: int  # elements of its non-constant inputs and outputs
    custom: bool = False  # a custom op (TFLite_Detection_PostProcess...), not a built-in


# Host CPU throughputs are inferred from the CPU-only columns of Coral's benchmark table
# (coral.ai/docs/edgetpu/benchmarks): MobileNet v1 224 (569 M MACs) takes 53 ms on the
# desktop CPU and 164 ms on the embedded Cortex-A53 1.5 GHz; MobileNet v2 (300 M MACs) 51 ms
# and 122 ms; ResNet-50 at 299 (7.3 G MACs) 484 ms and 1763 ms: 6-15 G MAC/s and 2.5-4.1
# G MAC/s, the low ends from depthwise-heavy models. Taken: 12 and 3.8 G MAC/s. A Raspberry
# Pi 3 B (Cortex-A53 at 1.2 GHz) scales the A53 by 1.2/1.5; a Raspberry Pi 4 B (Cortex-A72 at
# 1.5 GHz) runs about twice the A53's int8 throughput (inferred).
# Element-wise built-ins: about one element per ns on a desktop core, a quarter of that on an
# A53 (inferred from TFLite's optimized kernels; these ops are rarely left on the CPU).
# Custom ops: the published SSD MobileNet v2 COCO (91 classes) and face (1 class) figures of
# Coral's reference CSVs differ by 5.3 ms (x86-64), 9.1 ms (Dev Board), 8.9 ms (Raspberry Pi
# 4) and 23-32 ms (Raspberry Pi 3): the CPU post-processing of 1917 x 91 class scores (NMS
# ranks the classes of every anchor). 182 k input elements in that time: 35 M elements/s on the
# desktop, 20 M/s on the Dev Board and the Pi 4, 6.5 M/s on the Pi 3. (No published figure
# of a model with such an op can be costed here: these rates are not checked.)
# Invoke overheads (interpreter, runtime, driver, completion interrupt per Edge TPU subgraph):
# fitted to the published latencies by tools/fit_latency.py. The Pi 3's fits to 0: only two
# small models were measured there, so its fixed cost and the USB 2.0 throughput are nearly
# interchangeable and the fit puts it all on the throughput.
DESKTOP = Host("desktop x86-64", macs_per_s=12e9, elements_per_s=1e9,
               custom_elements_per_s=35e6, op_overhead_s=20e-6, invoke_overhead_s=0.55e-3)
DEV_BOARD = Host("Dev Board (Cortex-A53 1.5 GHz)", macs_per_s=3.8e9, elements_per_s=0.25e9,
                 custom_elements_per_s=20e6, op_overhead_s=60e-6, invoke_overhead_s=0.65e-3)
RASPBERRY_PI_3 = Host("Raspberry Pi 3 (Cortex-A53 1.2 GHz)", macs_per_s=3.0e9,
                      elements_per_s=0.2e9, custom_elements_per_s=6.5e6, op_overhead_s=75e-6,
                      invoke_overhead_s=0.0)
RASPBERRY_PI_4 = Host("Raspberry Pi 4 (Cortex-A72 1.5 GHz)", macs_per_s=7.5e9,
                      elements_per_s=0.5e9, custom_elements_per_s=20e6, op_overhead_s=40e-6,
                      invoke_overhead_s=2.6e-3)

# Link payload throughputs, fitted to the published latencies (tools/fit_latency.py) under
# their physical bounds (documented in the USB and PCIe specifications): USB 3.0 SuperSpeed
# signals 5 Gb/s with 8b/10b coding, 500 MB/s; USB 2.0 High Speed bulk transfers carry at most
# 13 packets of 512 bytes per 125 us microframe, 53 MB/s; PCIe Gen2 x1 signals 5 GT/s with
# 8b/10b coding, 500 MB/s.
# USB 3.0 and PCIe fit at their limit: VGG16 and VGG19 (127-132 MiB streamed) are predicted
# within 3 % on USB 3.0 at 500 MB/s. USB 2.0 fits to 33 MB/s; independently, Coral's Pi 3
# figure for Inception v4 (1060 ms against 84 ms on USB 3.0, with some 36 MB of its 43 M
# parameters streamed) implies about 34 MB/s.
LINK_LIMIT_BYTES_PER_S = {"usb3": 500e6, "usb2": 13 * 512 / 125e-6, "pcie": 500e6}
USB3_BYTES_PER_S = 500e6
USB2_BYTES_PER_S = 33e6
PCIE_BYTES_PER_S = 500e6

DEVICES: dict[Link, DeviceModel] = {
    Link.USB3: DeviceModel(Link.USB3, DESKTOP, MAX_CLOCK_HZ, USB3_BYTES_PER_S),
    Link.USB2: DeviceModel(Link.USB2, RASPBERRY_PI_3, MAX_CLOCK_HZ, USB2_BYTES_PER_S),
    Link.PCIE: DeviceModel(Link.PCIE, DEV_BOARD, MAX_CLOCK_HZ, PCIE_BYTES_PER_S),
}

# The runtime sends each Edge TPU subgraph's instruction bitstreams over the link at every
# inference, with the input activations and streamed parameters (documented in Coral's own
# USB runtime: google-coral/coralmicro libs/tpu/edgetpu_executable.cc, Invoke). Their size is
# observed in the compiled corpus (package bytes minus parameter bytes, 2.1 and 15.0 zoo
# models): about 34 KiB per subgraph plus 2 KiB per op (MobileNet v1: 31 ops, 83-111 KB;
# MobileNet v2: 66 ops, 166 KB; YOLOv5n: 257 ops, 466 KB). Large feature maps need more
# (PoseNet at 721x1281: 1 MB), which this estimate leaves out.
INSTRUCTION_BYTES_PER_SUBGRAPH = 34 * 1024
INSTRUCTION_BYTES_PER_OP = 2 * 1024

# Relative band of the estimate: the 10th and 90th percentile of measured/predicted over the
# leave-one-model-out predictions of the 28 published figures (tools/fit_latency.py): the
# measured latency fell inside for 80 % of them.
BAND = (0.73, 1.32)


DTYPE_BYTES = {"UINT8": 1, "INT8": 1, "BOOL": 1, "INT16": 2, "FLOAT16": 2, "INT32": 4,
               "FLOAT32": 4, "INT64": 8, "FLOAT64": 8}


def dtype_bytes(dtype: str) -> int:
    return DTYPE_BYTES.get(dtype, 4)


# The ops that multiply-accumulate, each with its count from (input tensors, output elements,
# weights' shape); 0 when the weights do not have the op's shape. Every other op is
# element-wise. TRANSPOSE_CONV's inputs are (output shape, weights, input): each input
# element is spread over the kernel for every output channel.
MACS = {
    "CONV_2D": lambda ins, out, w: out * w[1] * w[2] * w[3] if len(w) == 4 else 0,
    "DEPTHWISE_CONV_2D": lambda ins, out, w: out * w[1] * w[2] if len(w) == 4 else 0,
    "FULLY_CONNECTED": lambda ins, out, w: out * w[1] if len(w) == 2 else 0,
    "TRANSPOSE_CONV": lambda ins, out, w: (ins[2].num_elements * w[0] * w[1] * w[2]
                                           if len(ins) > 2 and len(w) == 4 else 0),
}


def op_macs(subgraph: Subgraph, op) -> int:
    """Multiply-accumulates of the ops that have them (MACS); the rest are element-wise."""
    count = MACS.get(op.opcode)
    if count is None:
        return 0
    ins, outs = subgraph.input_tensors(op), subgraph.output_tensors(op)
    if len(ins) < 2 or not outs:
        return 0
    return count(ins, outs[0].num_elements, ins[1].shape)


def cpu_cost(model: Model, subgraph: Subgraph, ops: Iterable[int]) -> tuple[CpuOp, ...]:
    """The work of the ops left on the CPU, for the host model."""
    tensors = subgraph.tensors
    result = []
    for i in ops:
        op = subgraph.operators[i]
        elements = 0
        for t in (*op.inputs, *op.outputs):
            if t >= 0 and not tensors[t].is_constant:
                elements += tensors[t].num_elements
        result.append(CpuOp(op_macs(subgraph, op), elements, op.opcode == "CUSTOM"))
    return tuple(result)


def cpu_op_seconds(op: CpuOp, host: Host) -> float:
    """An op on the host: compute-bound MACs, per-element work, plus a fixed dispatch."""
    return cpu_seconds((op,), host)


def cpu_seconds(ops: Iterable[CpuOp], host: Host) -> float:
    """The seconds of `ops` on the host, each priced as cpu_op_seconds says, in one loop (an
    estimate prices hundreds of CPU ops on each host)."""
    macs_per_s, elements_per_s, custom_per_s, overhead = (
        host.macs_per_s, host.elements_per_s, host.custom_elements_per_s, host.op_overhead_s)
    total = 0
    for op in ops:
        total += (op.macs / macs_per_s
                  + op.elements / (custom_per_s if op.custom else elements_per_s) + overhead)
    return total


def instruction_bytes(tpu_ops: int, tpu_subgraphs: int) -> int:
    """Estimated instruction bytes sent per inference (for a model not yet compiled)."""
    if not tpu_subgraphs:
        return 0
    return tpu_subgraphs * INSTRUCTION_BYTES_PER_SUBGRAPH + tpu_ops * INSTRUCTION_BYTES_PER_OP


def latency_parts(cycles: int, off_chip_bytes: int, instruction_bytes: int, input_bytes: int,
                  output_bytes: int, cpu_ops: tuple[CpuOp, ...] | list[CpuOp],
                  crossing_bytes: int, device: DeviceModel,
                  tpu_subgraphs: int = 1) -> dict[str, float]:
    """Milliseconds per part of one warm inference; their sum is the latency.

    input_bytes/output_bytes: the model's tensors that enter and leave the Edge TPU;
    crossing_bytes: intermediate tensors that go between CPU ops and an Edge TPU subgraph.
    """
    link, host = device.link_bytes_per_s, device.host
    return {
        "invoke": tpu_subgraphs * host.invoke_overhead_s * MS,
        "edgetpu": cycles / device.clock_hz * MS,
        "streamed_parameters": off_chip_bytes / link * MS,
        "instructions": instruction_bytes / link * MS,
        "input_output": (input_bytes + output_bytes) / link * MS,
        "crossings": crossing_bytes / link * MS,
        "cpu_ops": cpu_seconds(cpu_ops, host) * MS,
    }


def latency_ms(parts: dict[str, float]) -> float:
    return sum(parts.values())


def latency_range(latency: float, band: tuple[float, float] = BAND) -> tuple[float, float]:
    """The range the measured latency falls in for 80 % of the calibration models."""
    return latency * band[0], latency * band[1]


def cache_load_ms(on_chip_bytes: int, device: DeviceModel) -> float:
    """Extra time of the first inference: the cached parameters cross the link once."""
    return on_chip_bytes / device.link_bytes_per_s * MS


def dominant_part(parts: dict[str, float]) -> str:
    """The part that costs the most: what a user should attack first."""
    return max(parts, key=parts.get)


class SegmentCost(NamedTuple):
    """One Edge TPU subgraph as the latency model sees it."""

    cycles: int | None  # None: unknown (a compiled model whose compiler wrote no estimate)
    off_chip_bytes: int
    input_bytes: int  # every activation entering it (model input or from a CPU op)
    output_bytes: int  # every activation leaving it
    instruction_bytes: int = 0  # see instruction_bytes() and package_instruction_bytes()


class Latency(NamedTuple):
    """One device's estimate: total, range and parts in ms (None when cycles are unknown)."""

    total_ms: float | None
    low_ms: float | None
    high_ms: float | None
    parts_ms: dict[str, float]


def package_instruction_bytes(package) -> int:
    """A compiled Edge TPU subgraph's bytes that are not parameters: its instructions."""
    return package.size_bytes - sum(e.parameter_bytes for e in package.executables)


def estimate(device: DeviceModel, segments: list[SegmentCost], cpu: tuple[CpuOp, ...],
             crossing_bytes: int = 0) -> Latency:
    """Latency of a model on one device. crossing_bytes: how many of the segments' input and
    output bytes are intermediate tensors exchanged with CPU ops (it only splits the link
    time between the parts "input_output" and "crossings"; the total does not change)."""
    activation = sum(s.input_bytes + s.output_bytes for s in segments)
    crossing = min(crossing_bytes, activation)
    parts = latency_parts(
        cycles=sum(s.cycles or 0 for s in segments),
        off_chip_bytes=sum(s.off_chip_bytes for s in segments),
        instruction_bytes=sum(s.instruction_bytes for s in segments),
        input_bytes=activation - crossing, output_bytes=0, cpu_ops=cpu,
        crossing_bytes=crossing, device=device, tpu_subgraphs=len(segments))
    if any(s.cycles is None for s in segments):
        del parts["edgetpu"]
        return Latency(None, None, None, parts)
    total = latency_ms(parts)
    low, high = latency_range(total)
    return Latency(total, low, high, parts)
