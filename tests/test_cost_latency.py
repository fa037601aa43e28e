"""Edge TPU latency per device: the parts with literal values, the constants against their
physical bounds, and published architectures rebuilt at their input size against Coral's
published latencies."""

import importlib.util
import sys

import pytest
from conftest import ROOT

from tpulens.analyzer import latency
from tpulens.analyzer.latency import CpuOp, DeviceModel, Host, Link

HOST = Host("test host", macs_per_s=1e9, elements_per_s=1e8, custom_elements_per_s=1e6,
            op_overhead_s=1e-4, invoke_overhead_s=5e-4)
DEVICE = DeviceModel(Link.USB3, HOST, clock_hz=500e6, link_bytes_per_s=400e6)


def test_parts_are_each_cost_over_its_rate():
    parts = latency.latency_parts(
        cycles=1_000_000, off_chip_bytes=4_000_000, instruction_bytes=200_000,
        input_bytes=150_000, output_bytes=50_000, cpu_ops=[CpuOp(2_000_000, 10_000)],
        crossing_bytes=400_000, device=DEVICE, tpu_subgraphs=2)
    assert parts == pytest.approx({
        "invoke": 1.0,  # 2 subgraphs x 0.5 ms
        "edgetpu": 2.0,  # 1 M cycles at 500 MHz
        "streamed_parameters": 10.0,  # 4 MB at 400 MB/s
        "instructions": 0.5,
        "input_output": 0.5,
        "crossings": 1.0,
        "cpu_ops": 2.0 + 0.1 + 0.1,  # 2 M MACs at 1 G/s, 10 k elements at 100 M/s, dispatch
    })
    assert latency.latency_ms(parts) == pytest.approx(17.2)
    assert latency.dominant_part(parts) == "streamed_parameters"


def test_a_custom_op_costs_its_elements_at_the_custom_rate():
    nms = CpuOp(macs=0, elements=182_000, custom=True)
    builtin = CpuOp(macs=0, elements=182_000)
    assert latency.cpu_op_seconds(nms, HOST) == pytest.approx(0.182 + 1e-4)
    assert latency.cpu_op_seconds(builtin, HOST) == pytest.approx(0.00182 + 1e-4)


def test_a_model_all_on_the_cpu_has_no_edgetpu_traffic():
    assert latency.instruction_bytes(tpu_ops=0, tpu_subgraphs=0) == 0
    parts = latency.latency_parts(0, 0, 0, 0, 0, [CpuOp(1_000_000, 0)], 0, DEVICE,
                                  tpu_subgraphs=0)
    assert parts["invoke"] == parts["input_output"] == parts["edgetpu"] == 0
    assert parts["cpu_ops"] == pytest.approx(1.1)


def test_instruction_estimate_grows_per_op_and_per_subgraph():
    one = latency.instruction_bytes(tpu_ops=66, tpu_subgraphs=1)
    assert one == 34 * 1024 + 66 * 2 * 1024
    assert latency.instruction_bytes(tpu_ops=66, tpu_subgraphs=2) == one + 34 * 1024


def test_range_brackets_the_estimate():
    low, high = latency.latency_range(10.0)
    assert low < 10.0 < high
    assert (low, high) == pytest.approx((10 * latency.BAND[0], 10 * latency.BAND[1]))


def test_first_inference_loads_the_cached_parameters_once():
    assert latency.cache_load_ms(4_000_000, DEVICE) == pytest.approx(10.0)


# Payload limits of the links (USB 3.0: 5 Gb/s, 8b/10b; USB 2.0: 13 bulk packets of 512 bytes a
# 125 us microframe; PCIe Gen2 x1: 5 GT/s, 8b/10b), from the specifications, not the module.
LINK_LIMITS = {Link.USB3: 500e6, Link.USB2: 13 * 512 / 125e-6, Link.PCIE: 500e6}


@pytest.mark.parametrize("link", list(Link))
def test_device_constants_stay_inside_physical_bounds(link):
    device = latency.DEVICES[link]
    assert device.link == link
    assert device.clock_hz == latency.MAX_CLOCK_HZ == 500e6
    assert 0 < device.link_bytes_per_s <= LINK_LIMITS[link]
    assert device.host.invoke_overhead_s >= 0


def test_usb2_streams_slower_than_usb3_and_pcie():
    usb2, usb3, pcie = (latency.DEVICES[k].link_bytes_per_s
                        for k in (Link.USB2, Link.USB3, Link.PCIE))
    assert usb2 < usb3 and usb2 < pcie
    assert usb2 <= 13 * 512 / 125e-6  # USB 2.0 bulk: 13 packets of 512 B per microframe


def test_instruction_estimate_near_the_compilers_packages(corpus):
    """The per-op instruction estimate against compiled zoo models' instruction bytes (package
    minus parameters): MobileNet v1 and v2 at 224."""
    from tpulens.analyzer import compiled
    from tpulens.analyzer.model import read_model

    for name, tpu_ops in (("mobilenet_v2_1.0_224_quant_edgetpu.tflite", 66),
                          ("mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite", 28)):
        model = read_model(corpus / "pairs" / "edgetpu" / name)
        (op,) = compiled.custom_ops(model)
        actual = op.package.size_bytes - sum(e.parameter_bytes for e in op.package.executables)
        assert latency.instruction_bytes(tpu_ops, 1) == pytest.approx(actual, rel=0.15)


def test_estimate_sums_segments_and_splits_crossings_without_changing_the_total():
    segments = [latency.SegmentCost(500_000, 0, 150_000, 50_000, 100_000),
                latency.SegmentCost(500_000, 4_000_000, 50_000, 1_000, 100_000)]
    whole = latency.estimate(DEVICE, segments, (CpuOp(0, 1_000),))
    split = latency.estimate(DEVICE, segments, (CpuOp(0, 1_000),), crossing_bytes=100_000)
    assert whole.total_ms == pytest.approx(split.total_ms)
    assert split.parts_ms["crossings"] == pytest.approx(0.25)  # 100 kB at 400 MB/s
    assert whole.parts_ms["invoke"] == pytest.approx(1.0)  # two subgraphs
    assert whole.parts_ms["edgetpu"] == pytest.approx(2.0)
    assert whole.parts_ms["instructions"] == pytest.approx(0.5)
    assert (whole.low_ms, whole.high_ms) == pytest.approx(latency.latency_range(whole.total_ms))


def test_unknown_cycles_leave_the_total_unknown():
    result = latency.estimate(DEVICE, [latency.SegmentCost(None, 0, 1000, 10)], ())
    assert result.total_ms is None and result.low_ms is None
    assert "edgetpu" not in result.parts_ms and result.parts_ms["input_output"] > 0


def test_cpu_cost_of_a_detection_head(corpus):
    """An SSD MobileNet v1's post-processing left on the CPU: a custom op over 1917 anchors' box
    encodings and 91 class scores (the constant anchors do not count; 4 scalar outputs)."""
    from tpulens.analyzer.model import read_model

    model = read_model(corpus / "cpu_with_log" / "EdgeTPU_Analysis" / "Ops" / "model_mobilenet"
                       / "coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite")
    main = model.subgraphs[0]
    last = len(main.operators) - 1
    (nms,) = latency.cpu_cost(model, main, [last])
    assert nms == CpuOp(macs=0, elements=1917 * 4 + 1917 * 91 + 4, custom=True)
    (conv,) = latency.cpu_cost(model, main, [0])
    assert conv.macs == 150 * 150 * 24 * 3 * 3 * 3 and not conv.custom  # 3x3 stride 2, 24 out


def test_macs_of_each_op_that_has_them():
    """One op of each kind MACS counts, on a built model: output elements times the weights
    each one reads (a transposed conv: input elements times what each one is spread over);
    an element-wise op counts none."""
    from tflite_builder import Op, T, build

    from tpulens.analyzer.model import model_from_bytes

    tensors = [T("image", (1, 8, 8, 3)), T("conv_w", (16, 3, 3, 3)), T("conv", (1, 8, 8, 16)),
               T("dw_w", (1, 3, 3, 16)), T("dw", (1, 8, 8, 16)),
               T("size", (4,), "INT32"), T("up_w", (8, 3, 3, 16)), T("up", (1, 16, 16, 8)),
               T("flat", (1, 64)), T("fc_w", (10, 64)), T("fc", (1, 10)),
               T("sum", (1, 10))]
    ops = [Op("CONV_2D", ["image", "conv_w"], ["conv"]),
           Op("DEPTHWISE_CONV_2D", ["conv", "dw_w"], ["dw"]),
           Op("TRANSPOSE_CONV", ["size", "up_w", "dw"], ["up"]),
           Op("FULLY_CONNECTED", ["flat", "fc_w"], ["fc"]),
           Op("ADD", ["fc", "fc"], ["sum"])]
    main = model_from_bytes(build(tensors, ops)).subgraphs[0]
    macs = {op.opcode: latency.op_macs(main, op) for op in main.operators}
    assert macs == {"CONV_2D": 8 * 8 * 16 * 3 * 3 * 3, "DEPTHWISE_CONV_2D": 8 * 8 * 16 * 3 * 3,
                    "TRANSPOSE_CONV": 8 * 8 * 16 * 8 * 3 * 3, "FULLY_CONNECTED": 10 * 64,
                    "ADD": 0}
    assert {name for name, count in macs.items() if count} == set(latency.MACS)


# ---- published architectures, rebuilt ---------------------------------------------------

def _fit_tool():
    spec = importlib.util.spec_from_file_location("fit_latency", ROOT / "tools" / "fit_latency.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


HOST_OF_LINK = {link: device.host for link, device in latency.DEVICES.items()}


@pytest.mark.slow
@pytest.mark.parametrize("keras_name", ["MobileNet", "MobileNetV2", "ResNet50"])
def test_rebuilt_model_agrees_with_published_latency(keras_name, tmp_path):
    """Rebuilt with random weights at the published input size (the cost depends on the
    architecture, not the weights), estimated for each device, and checked against every
    published figure of that device's host (Coral's page and reference CSVs)."""
    pytest.importorskip("tensorflow")
    tool = _fit_tool()
    if not tool.PUBLISHED.exists():
        pytest.skip(f"published latencies not found at {tool.PUBLISHED}")
    rows = tool.published_rows()
    call = next(c for c in tool.rebuild_calls(rows) if c.name == keras_name)
    path = tmp_path / call.file_name
    path.write_bytes(tool.convert_int8(call))
    cost = tool.from_cpu(path, keras_name)
    assert cost.tpu_subgraphs == 1 and not cost.cpu_ops
    checked = 0
    for row in rows:
        if tool.parse_call(row.get("keras_rebuild") or "") != call:
            continue
        link = tool.LINKS[row["link"]]
        if tool.host_of(row["host"]) != HOST_OF_LINK[link]:
            continue  # a host the device model does not describe (Raspberry Pi 4 on USB 3)
        parts = latency.latency_parts(cost.cycles, cost.off_chip_bytes, cost.instruction_bytes,
                                      cost.input_bytes, cost.output_bytes, cost.cpu_ops,
                                      cost.crossing_bytes, latency.DEVICES[link])
        low, high = latency.latency_range(latency.latency_ms(parts))
        measured = float(row["latency_ms"])
        assert low <= measured <= high, (row["model"], row["host"], measured, low, high)
        checked += 1
    assert checked >= 2
