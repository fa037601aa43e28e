"""Calibrate and check the Edge TPU latency model against Coral's published latencies.

    python tools/fit_latency.py rebuild [--out DIR]   # keras_rebuild rows -> full-int8 .tflite
    python tools/fit_latency.py fit [--out DIR]       # fit, leave-one-model-out, error tables

`rebuild` needs TensorFlow (the `[runners]` extra); `fit` needs only the package. The rebuilt
files are scratch data (random weights: the cost depends on the architecture and sizes only),
kept out of the repository.
"""

from __future__ import annotations

import argparse
import ast
import csv
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from tpulens.analyzer import compiled, ground_truth, latency
from tpulens.analyzer.analyze import analyze_model, make_options
from tpulens.analyzer.cycles import segment_cycles
from tpulens.analyzer.latency import CpuOp, Host, Link
from tpulens.analyzer.model import Subgraph, read_model
from tpulens.analyzer.param_memory import lay_out
from tpulens.analyzer.vocabulary import Placement

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
PUBLISHED = SHARED / "perf" / "published-latency.tsv"
CORPUS = ground_truth.CORPUS
REBUILT = Path("/tmp/coord/rebuilt")
CALIBRATION_SAMPLES = 2  # random images: enough for quantization ranges, the cost ignores them


@dataclass(frozen=True)
class KerasCall:
    """A `tf.keras.applications` call from the TSV's keras_rebuild column."""

    name: str
    kwargs: tuple[tuple[str, object], ...]

    @property
    def file_name(self) -> str:
        shape = dict(self.kwargs)["input_shape"]
        extra = "".join(f"_{k}{v}" for k, v in self.kwargs if k != "input_shape")
        return f"{self.name}_{shape[0]}x{shape[1]}{extra}.tflite"


def parse_call(text: str) -> KerasCall | None:
    """`tf.keras.applications.X(input_shape=(h,w,3), alpha=1.0)  # note` -> KerasCall; default
    arguments (alpha=1.0) dropped so equal architectures share one file."""
    text = text.split("#", 1)[0].strip()
    if not text:
        return None
    call = ast.parse(text, mode="eval").body
    kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    if kwargs.get("alpha") == 1.0:
        del kwargs["alpha"]
    return KerasCall(call.func.attr, tuple(sorted(kwargs.items())))


def published_rows(path: Path = PUBLISHED) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def rebuild_calls(rows: list[dict]) -> list[KerasCall]:
    """Distinct architectures to rebuild, smallest first (the large ones take minutes)."""
    calls = {c for r in rows if (c := parse_call(r.get("keras_rebuild") or ""))}
    order = ["MobileNet", "MobileNetV2", "DenseNet121", "ResNet50", "ResNet50V2",
             "InceptionResNetV2", "ResNet152V2", "VGG16", "VGG19"]
    return sorted(calls, key=lambda c: (order.index(c.name) if c.name in order else 99, c))


def convert_int8(call: KerasCall) -> bytes:
    """Full-integer TFLite with uint8 input and output, as Coral's zoo models are."""
    import numpy as np

    from tpulens.runners import tfsetup

    tf = tfsetup.import_tf()
    build = getattr(tf.keras.applications, call.name)
    shape = dict(call.kwargs)["input_shape"]
    # batch 1 fixed: a free batch dimension leaves run-time SHAPE ops the compiler refuses
    model = build(weights=None, input_tensor=tf.keras.Input(shape, batch_size=1),
                  **dict(call.kwargs))
    rng = np.random.default_rng(0)
    samples = [rng.uniform(-1, 1, (1, *shape)).astype("float32")
               for _ in range(CALIBRATION_SAMPLES)]
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([s] for s in samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.uint8
    return converter.convert()


def rebuild(out: Path, only: str | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for call in rebuild_calls(published_rows()):
        if only and call.name != only:
            continue
        target = out / call.file_name
        if target.exists():
            print("have", target)
            continue
        data = convert_int8(call)
        tmp = target.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.rename(target)
        print("wrote", target, len(data))


# ---- the cost inputs of one model ----------------------------------------------------------

@dataclass(frozen=True)
class ModelCost:
    """What the latency model needs of one model, and where each figure came from."""

    name: str
    source: str  # compiled (the compiler's own figures) or rebuilt (predicted from the .tflite)
    cycles: int
    on_chip_bytes: int
    off_chip_bytes: int
    instruction_bytes: int
    input_bytes: int
    output_bytes: int
    crossing_bytes: int
    cpu_ops: tuple[CpuOp, ...]
    tpu_subgraphs: int
    figures: str  # compiler | analyzer: who gave the cycles and parameter split


def tensor_bytes(t) -> int:
    return t.num_elements * latency.dtype_bytes(t.dtype)


def _boundary_bytes(sg: Subgraph, tpu: set[int]) -> tuple[int, int, int]:
    """(model input bytes into the Edge TPU, its output bytes out of it, bytes crossing
    between CPU ops and Edge TPU subgraphs)."""
    producer = {t: op.index for op in sg.operators for t in op.outputs}
    model_in, model_out = set(sg.inputs), set(sg.outputs)
    inp = cross = 0
    seen = set()
    for op in sg.operators:
        for t in op.inputs:
            if t < 0 or t in seen or sg.tensors[t].is_constant:
                continue
            src = producer.get(t)
            if src is None and t in model_in and op.index in tpu:
                inp += tensor_bytes(sg.tensors[t])
            elif src is not None and (src in tpu) != (op.index in tpu):
                cross += tensor_bytes(sg.tensors[t])
            else:
                continue
            seen.add(t)
    outp = sum(tensor_bytes(sg.tensors[t]) for t in model_out if producer.get(t) in tpu)
    return inp, outp, cross


def segments(sg: Subgraph, tpu: set[int]) -> list[list[int]]:
    """Runs of consecutive Edge TPU ops in execution order (one custom op each)."""
    runs, current = [], []
    for op in sg.operators:
        if op.index in tpu:
            current.append(op.index)
        elif current:
            runs.append(current)
            current = []
    return runs + ([current] if current else [])


def from_compiled(path: Path, name: str) -> ModelCost:
    """A compiled model: the compiler's own cycles and parameter split."""
    model = read_model(path)
    sg = model.subgraphs[0]
    cycles = on_chip = off_chip = instructions = 0
    ops = compiled.custom_ops(model)
    for op in ops:
        if op.package:
            instructions += latency.package_instruction_bytes(op.package)
        for ex in op.package.executables if op.package else []:
            if ex.type == "PARAMETER_CACHING":
                on_chip += ex.parameter_bytes
            else:
                off_chip += ex.parameter_bytes
                cycles += ex.estimated_cycles
    tpu = {op.index for op in ops}
    inp, outp, cross = _boundary_bytes(sg, tpu)
    cpu = latency.cpu_cost(model, sg, [op.index for op in sg.operators if op.index not in tpu])
    return ModelCost(name, "compiled", cycles, on_chip, off_chip, instructions, inp, outp,
                     cross, cpu, len(ops), "compiler")


def from_cpu(path: Path, name: str) -> ModelCost:
    """A CPU .tflite: predicted placement, then cycles and parameter split per segment."""
    model = read_model(path)
    sg = model.subgraphs[0]
    analysis = analyze_model(model, make_options(), what_if=False)
    tpu = {v.index for v in analysis.verdicts
           if v.subgraph == 0 and v.placement == Placement.TPU}
    runs = segments(sg, tpu)
    cycles = sum(segment_cycles(model, sg, run) for run in runs)
    layout = lay_out(model, sg, runs, False)
    on_chip = sum(p.on_chip_bytes for p in layout)
    off_chip = sum(p.off_chip_bytes for p in layout)
    inp, outp, cross = _boundary_bytes(sg, tpu)
    cpu = latency.cpu_cost(model, sg, [
        op.index for op in sg.operators
        if op.index not in tpu and analysis.verdicts[op.index].placement == Placement.CPU])
    instructions = latency.instruction_bytes(len(tpu), len(runs))
    return ModelCost(name, "rebuilt", cycles, on_chip, off_chip, instructions, inp, outp,
                     cross, cpu, len(runs), "analyzer")


# ---- published rows -> cases ------------------------------------------------------------

HOSTS = {"desktop": latency.DESKTOP, "dev board": latency.DEV_BOARD,
         "raspberry pi 4": latency.RASPBERRY_PI_4, "raspberry pi 3": latency.RASPBERRY_PI_3,
         "xeon": latency.DESKTOP}
LINKS = {"usb3": Link.USB3, "usb2": Link.USB2, "soc": Link.PCIE}


def host_of(text: str) -> Host:
    low = text.lower()
    for key, host in HOSTS.items():
        if key in low:
            return host
    raise ValueError(f"unknown host {text!r}")


@dataclass(frozen=True)
class Case:
    """One published figure with the cost inputs of its model."""

    cost: ModelCost
    host: Host
    link: Link
    measured_ms: float
    measure: str  # C++ benchmark page, or Python reference CSV


def compiled_in_corpus(file_name: str) -> ModelCost | None:
    """The corpus copy of a compiled model that carries the compiler's cycles (compilers
    1.0 to 15.0 write them; 16.0 writes 0)."""
    for path in sorted(CORPUS.glob(f"pairs/**/{file_name}")):
        cost = from_compiled(path, file_name.removesuffix("_edgetpu.tflite"))
        if cost.cycles:
            return cost
    return None


def cases(rows: list[dict], rebuilt: Path = REBUILT) -> tuple[list[Case], list[str]]:
    """Every row whose model we can cost; the others are listed with why not."""
    costs: dict[str, ModelCost] = {}
    result, skipped = [], []
    for row in rows:
        name, call = row["model"], parse_call(row.get("keras_rebuild") or "")
        found = compiled_in_corpus(name) if name.endswith("_edgetpu.tflite") else None
        if found is not None:
            key, make = f"compiled:{name}", lambda c=found: c
        elif call is not None and (rebuilt / call.file_name).exists():
            key = f"rebuilt:{call.file_name}"
            make = lambda p=rebuilt / call.file_name, n=call.file_name[:-7]: from_cpu(p, n)  # noqa: E731
        else:
            skipped.append(f"{name} ({row['host'][:24]}): no model file, no rebuild")
            continue
        if key not in costs:
            costs[key] = make()
        measure = "C++ page" if row["measure"].startswith("C++") else "Python CSV"
        result.append(Case(costs[key], host_of(row["host"]), LINKS[row["link"]],
                           float(row["latency_ms"]), measure))
    return result, skipped


# ---- fit and check -----------------------------------------------------------------------

LINK_ORDER = (Link.USB3, Link.USB2, Link.PCIE)
FIT_HOSTS = (latency.DESKTOP, latency.DEV_BOARD, latency.RASPBERRY_PI_3, latency.RASPBERRY_PI_4)


@dataclass(frozen=True)
class Fit:
    """Fitted constants: invoke overhead per host (s), link throughput (bytes/s)."""

    overhead_s: dict[str, float]
    link_bytes_per_s: dict[Link, float]


def link_bytes(cost: ModelCost) -> int:
    return (cost.off_chip_bytes + cost.instruction_bytes + cost.input_bytes + cost.output_bytes
            + cost.crossing_bytes)


def fixed_seconds(case: Case) -> float:
    """The parts with no fitted constant: Edge TPU time and CPU ops."""
    cpu = sum(latency.cpu_op_seconds(op, case.host) for op in case.cost.cpu_ops)
    return case.cost.cycles / latency.MAX_CLOCK_HZ + cpu


def fit(train: list[Case], prior: Fit) -> Fit:
    """Least squares on relative error, linear in (overhead per host, 1/throughput per link),
    every unknown bounded: overheads >= 0, throughputs <= the link's physical limit. A host or
    link absent from the training cases keeps its prior value."""
    import numpy as np

    hosts = [h.name for h in FIT_HOSTS if any(c.host.name == h.name for c in train)]
    links = [k for k in LINK_ORDER if any(c.link == k for c in train)]
    rows, rhs = [], []
    for c in train:
        w = 1 / c.measured_ms
        x = [w * (c.host.name == h) * c.cost.tpu_subgraphs for h in hosts]
        x += [w * (c.link == k) * link_bytes(c.cost) for k in links]
        rows.append(x)
        at_limit = link_bytes(c.cost) / latency.LINK_LIMIT_BYTES_PER_S[c.link]
        rhs.append(w * (c.measured_ms / latency.MS - fixed_seconds(c) - at_limit))
    sol = nnls(np.array(rows), np.array(rhs))
    overhead = dict(prior.overhead_s) | dict(zip(hosts, sol[:len(hosts)], strict=True))
    slower = dict(zip(links, sol[len(hosts):], strict=True))  # 1/throughput - 1/limit
    throughput = dict(prior.link_bytes_per_s) | {
        k: 1 / (v + 1 / latency.LINK_LIMIT_BYTES_PER_S[k]) for k, v in slower.items()}
    return Fit(overhead, throughput)


def nnls(a, b):
    """Non-negative least squares by active set (a handful of unknowns)."""
    import numpy as np

    free = list(range(a.shape[1]))
    while True:
        x = np.zeros(a.shape[1])
        if free:
            x[free] = np.linalg.lstsq(a[:, free], b, rcond=None)[0]
        negative = [i for i in free if x[i] < 0]
        if not negative:
            return x
        free.remove(min(negative, key=lambda i: x[i]))


def prior_fit() -> Fit:
    return Fit({h.name: h.invoke_overhead_s for h in FIT_HOSTS},
               {d.link: d.link_bytes_per_s for d in latency.DEVICES.values()})


def predict(case: Case, constants: Fit) -> dict[str, float]:
    host = case.host._replace(invoke_overhead_s=constants.overhead_s[case.host.name])
    device = latency.DeviceModel(case.link, host, latency.MAX_CLOCK_HZ,
                                 constants.link_bytes_per_s[case.link])
    c = case.cost
    return latency.latency_parts(c.cycles, c.off_chip_bytes, c.instruction_bytes,
                                 c.input_bytes, c.output_bytes, c.cpu_ops, c.crossing_bytes,
                                 device, c.tpu_subgraphs)


def errors(all_cases: list[Case], held_out: bool) -> list[tuple[Case, float, dict]]:
    """(case, relative error, parts) with constants fitted on all cases, or on the cases of
    the other models only (leave-one-model-out)."""
    prior = prior_fit()
    whole = fit(all_cases, prior)
    out = []
    for case in all_cases:
        constants = whole
        if held_out:
            constants = fit([c for c in all_cases if c.cost.name != case.cost.name], prior)
        parts = predict(case, constants)
        out.append((case, latency.latency_ms(parts) / case.measured_ms - 1, parts))
    return out


def cross_source_errors(all_cases: list[Case]) -> list[tuple[Case, float]]:
    """Each figure predicted with constants fitted on the other source's figures only (C++
    page <-> Python reference CSVs), for the hosts both sources measured."""
    prior = prior_fit()
    out = []
    for measure in {c.measure for c in all_cases}:
        train = [c for c in all_cases if c.measure != measure]
        hosts = {c.host.name for c in train}
        constants = fit(train, prior)
        for case in all_cases:
            if case.measure == measure and case.host.name in hosts:
                predicted = latency.latency_ms(predict(case, constants))
                out.append((case, predicted / case.measured_ms - 1))
    return out


def median_abs(errs: list[float]) -> float:
    return statistics.median(abs(e) for e in errs) if errs else math.nan


def report(all_cases: list[Case]) -> str:
    """Markdown tables: error per device and per source, in-sample and held out; worst."""
    ins, out = errors(all_cases, False), errors(all_cases, True)
    whole = fit(all_cases, prior_fit())
    lines = ["Fitted on all cases:"]
    lines += [f"- invoke overhead, {h}: {v * 1e3:.3f} ms" for h, v in whole.overhead_s.items()]
    lines += [f"- link {k}: {v / 1e6:.0f} MB/s" for k, v in whole.link_bytes_per_s.items()]
    lines += ["", "| group | cases | models | median abs error in-sample | held out |",
              "|---|---|---|---|---|"]

    def group(label, keep):
        a = [e for c, e, _ in ins if keep(c)]
        b = [e for c, e, _ in out if keep(c)]
        models = len({c.cost.name for c, _, _ in ins if keep(c)})
        lines.append(f"| {label} | {len(a)} | {models} | {median_abs(a):.1%} | "
                     f"{median_abs(b):.1%} |")

    group("all", lambda c: True)
    for k in LINK_ORDER:
        group(f"link {k}", lambda c, k=k: c.link == k)
    for h in FIT_HOSTS:
        group(f"host {h.name}", lambda c, h=h: c.host.name == h.name)
    for m in ("C++ page", "Python CSV"):
        group(f"measure {m}", lambda c, m=m: c.measure == m)
    for s in sorted({c.cost.source + "/" + c.cost.figures for c in all_cases}):
        group(f"figures {s}", lambda c, s=s: c.cost.source + "/" + c.cost.figures == s)
    cross = cross_source_errors(all_cases)
    lines += ["", "| fitted on the other source only: predicted | cases | median abs error |",
              "|---|---|---|"]
    for m in sorted({c.measure for c, _ in cross}):
        errs = [e for c, e in cross if c.measure == m]
        lines.append(f"| {m} | {len(errs)} | {median_abs(errs):.1%} |")
    lines += ["", "| model | figures | cycles | on-chip MiB | streamed MiB | instructions KiB |",
              "|---|---|---|---|---|---|"]
    for cost in {c.cost.name: c.cost for c in all_cases}.values():
        lines.append(f"| {cost.name} | {cost.figures} | {cost.cycles:,} | "
                     f"{cost.on_chip_bytes / 2**20:.2f} | {cost.off_chip_bytes / 2**20:.2f} | "
                     f"{cost.instruction_bytes / 1024:.0f} |")
    lines += ["", "| model | host | link | measured ms | predicted ms (held out) | error | "
              "largest part |", "|---|---|---|---|---|---|---|"]
    for c, e, parts in sorted(out, key=lambda t: -abs(t[1])):
        top = latency.dominant_part(parts)
        lines.append(f"| {c.cost.name} | {c.host.name} | {c.link} | {c.measured_ms:.2f} | "
                     f"{latency.latency_ms(parts):.2f} | {e:+.0%} | {top} "
                     f"{parts[top]:.2f} ms |")
    ratios = sorted(1 + e for _, e, _ in out)
    lines += ["", f"held-out measured/predicted: p10 {1 / quantile(ratios, 0.9):.2f} "
              f"p90 {1 / quantile(ratios, 0.1):.2f}"]
    return "\n".join(lines)


def quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["rebuild", "fit"])
    parser.add_argument("--out", type=Path, default=REBUILT)
    parser.add_argument("--only", help="rebuild this tf.keras.applications name only")
    args = parser.parse_args(argv)
    if args.command == "rebuild":
        rebuild(args.out, args.only)
    else:
        found, skipped = cases(published_rows(), args.out)
        print(report(found))
        print(f"\n{len(skipped)} rows not costed (no model file, no rebuild)")


if __name__ == "__main__":
    main()
