"""Experiment tables: records → pandas frames → rows of cells the templates render.

Every metric cell carries its provenance (a badge and a tooltip), and a raw sort key so the
shared table script sorts numbers as numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import quote

import pandas as pd

from tpulens.analyzer.vocabulary import RecordStatus
from tpulens.metrics import Better, bound_keys
from tpulens.report import metric_view as m
from tpulens.report.detections import model_order
from tpulens.report.labels import badge_legend, joined_wheres, provenance, source_label, where
from tpulens.report.load import Record, Results


@dataclass
class Cell:
    text: str
    sort: float | str | None = None
    title: str = ""
    badge: str = ""
    href: str = ""
    cls: str = ""
    note: str = ""  # a smaller second line (e.g. why an op stays on the CPU)


@dataclass
class RowGroup:
    """The next `size` rows of the table, in order: folded under one summary row, or shown as
    they are when there is none (a few rows between folded ones)."""

    id: str
    head: list[Cell] | None  # the summary row; its first cell becomes the open/close button
    size: int


@dataclass
class Table:
    id: str
    columns: list[str]
    rows: list[list[Cell]]
    caption: str = ""
    filterable: bool = True
    column_titles: list[str] = field(default_factory=list)
    row_ids: list[str] = field(default_factory=list)
    # (column index, label, options): a drop-down that keeps rows whose cell equals the option
    select_filters: list[tuple[int, str, list[str]]] = field(default_factory=list)
    groups: list[RowGroup] = field(default_factory=list)  # when set, every row is in one
    sortable: bool = True
    # (label, columns spanned): a header row above the column names ("" spans no group)
    header_groups: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class ExperimentData:
    """One experiment's records as pandas frames: values and sources, one column per metric."""

    slug: str
    records: list[Record]
    frame: pd.DataFrame
    metas: dict[str, m.MetricMeta]
    values: dict[str, dict[str, float]]  # variant → metric → value (fast cell lookups)
    sources: dict[str, dict[str, str]]  # variant → metric → provenance

    @property
    def variants(self) -> list[str]:
        return [r.variant for r in self.records]

    def value(self, variant: str, key: str) -> float | None:
        return self.values.get(variant, {}).get(key)

    def source(self, variant: str, key: str) -> str:
        return self.sources.get(variant, {}).get(key) or ""

    def off_edgetpu(self, variant: str) -> bool:
        """Whether no op of the variant reaches the Edge TPU (a float model)."""
        return self.value(variant, "edgetpu_share") == 0

    def ranks(self, variant: str, key: str) -> bool:
        """Whether the variant's value may win or join a front: an Edge TPU timing of a model
        that runs no op there (if any runtime gave one) is not."""
        if self.value(variant, key) is None:
            return False
        return not (m.on_edgetpu_only(key) and self.off_edgetpu(variant))

    def bounds(self, variant: str, key: str) -> tuple[float, float] | None:
        """The range of the variant's figure, when it has one (predicted latencies)."""
        low, high = (self.value(variant, k) for k in bound_keys(key))
        return None if low is None or high is None else (low, high)

    def range_text(self, variant: str, key: str, unit: str) -> str:
        return m.range_text(*(self.value(variant, k) for k in bound_keys(key)), unit)

    @cached_property
    def best(self) -> dict[str, list[str]]:
        """Per metric, the ok variants holding the best value."""
        ok = [r.variant for r in self.records if r.status == RecordStatus.OK]
        return {
            key: m.winners(
                {v: self.values[v][key] for v in ok if self.ranks(v, key)}, meta.better
            )
            for key, meta in self.metas.items()
        }

    def cell(
        self, record: Record, key: str, unit: str | None = None, cls: str = "", bare: bool = False
    ) -> Cell:
        """A number with its provenance; `bare` leaves the unit to the column header."""
        unit = self.metas[key].unit if unit is None and key in self.metas else unit or ""
        value = self.value(record.variant, key)
        if m.on_edgetpu_only(key) and self.off_edgetpu(record.variant):
            return Cell("not on Edge TPU", sort=None, title=NOT_ON_EDGETPU, cls="missing")
        if value is None:
            return Cell("–", sort=None, title="not measured", cls="missing")
        text = (m.format_number if bare else m.format_value)(value, unit)
        return Cell(
            text + self.range_text(record.variant, key, unit),
            sort=value,
            cls=cls,
            title=self.provenance(record, key),
            badge=source_label(self.source(record.variant, key)).badge,
        )

    def provenance(self, record: Record, key: str) -> str:
        source, description = self.source(record.variant, key), _description(record, key)
        return provenance(source, record.environment, key, description)

    def where_of(self, record: Record, key: str) -> str:
        """Where this record's figure was measured or who says it ("host CPU, LiteRT,
        1 thread", "predicted")."""
        source, description = self.source(record.variant, key), _description(record, key)
        return where(key, source, record.environment, description)

    def where(self, key: str) -> str:
        """The same for a whole column, over the variants that have the figure; where they
        differ in one part only, that part lists its values: "host CPU, LiteRT / TensorFlow,
        1 thread"."""
        return joined_wheres(
            self.where_of(r, key) for r in self.records if self.value(r.variant, key) is not None
        )


NOT_ON_EDGETPU = (
    "no op of this model maps to the Edge TPU: it runs entirely on the CPU, so it has no Edge "
    "TPU latency and never wins one"
)


def _description(record: Record, key: str) -> str:
    return str(record.metric_info.get(key, {}).get("description", ""))


def experiment_data(results: Results, slug: str, records: list[Record]) -> ExperimentData:
    values, sources = {}, {}
    for record in records:
        metrics = m.effective_metrics(record, results.analysis(record.analysis_slug))
        values[record.variant] = {k: v for k, (v, _) in metrics.items()}
        sources[record.variant] = {k: s for k, (_, s) in metrics.items()}
    index = [r.variant for r in records]
    frame = pd.DataFrame([values[v] for v in index], index=index)
    if len(frame.columns):
        frame = frame[m.metric_order(set(frame.columns))]
    return ExperimentData(
        slug, records, frame, metas_for(records, list(frame.columns)), values, sources
    )


def metas_for(records: list[Record], keys: list[str]) -> dict[str, m.MetricMeta]:
    infos: dict[str, dict] = {}
    for record in records:
        for key, info in record.metric_info.items():
            infos.setdefault(key, info)
    return {key: m.meta(key, infos.get(key)) for key in keys}


def comparison_table(data: ExperimentData, root: str) -> Table:
    keys = [k for k in data.frame.columns if k not in m.OTHER_LINKS]
    best = data.best
    # A note every record carries (e.g. "no Edge TPU attached") is said once, in the caption.
    common = set.intersection(*(set(r.notes) for r in data.records)) if data.records else set()
    rows = []
    for record in data.records:
        row = [
            Cell(
                record.variant,
                sort=record.variant,
                href=f"{root}compare/{data.slug}.html?a={quote(record.variant)}",
            ),
            Cell(record.status, cls=f"status-{record.status}"),
        ]
        row += [
            data.cell(record, key, cls="best" if record.variant in best[key] else "", bare=True)
            for key in keys
        ]
        slug = record.compiled_slug or record.analysis_slug
        label = "diagnostics (compiler)" if record.compiled_slug else "diagnostics"
        row.append(Cell(label, href=f"{root}models/{slug}.html") if slug else Cell("–"))
        row.append(Cell("\n".join(n for n in record.notes if n not in common), cls="notes"))
        rows.append(row)
    metas, wheres = data.metas, [data.where(k) for k in keys]
    columns = ["variant", "status"] + [column_label(metas[k]) for k in keys] + ["model", "notes"]
    titles = ["", ""] + [column_title(metas[k], w) for k, w in zip(keys, wheres, strict=True)]
    titles += ["", ""]
    if not any(row[-1].text for row in rows):  # no note left to show
        rows, columns, titles = [row[:-1] for row in rows], columns[:-1], titles[:-1]
    groups = header_groups(["", ""] + wheres + [""] * (len(columns) - 2 - len(keys)))
    caption = (
        "Best value per column in bold (ok records only). Badges say where a number "
        f"comes from: {badge_legend()}."
    )
    if any(k in data.frame.columns for k in m.OTHER_LINKS):
        caption += (" The Edge TPU latency predicted for the other hosts (USB 2.0, PCIe): on each "
                    "model's diagnostics page and the compare page.")
    if common and len(data.records) > 1:
        caption += " Every variant: " + "; ".join(sorted(common)) + "."
    return Table(
        f"cmp-{data.slug}",
        columns,
        rows,
        column_titles=titles,
        caption=caption,
        header_groups=groups if any(label for label, _ in groups) else [],
    )


def header_groups(labels: list[str]) -> list[tuple[str, int]]:
    """Neighbouring columns that share a label under one header cell: the timings measured on
    the host CPU, the predicted placement counts."""
    groups: list[tuple[str, int]] = []
    for label in labels:
        if groups and groups[-1][0] == label:
            groups[-1] = (label, groups[-1][1] + 1)
        else:
            groups.append((label, 1))
    return groups


def column_title(meta: m.MetricMeta, where: str = "") -> str:
    """The header's tooltip: the metric's key, unit, direction, description and where."""
    direction = f"{meta.better} is better" if meta.better != Better.NONE else "no direction"
    text = f"{meta.key} ({meta.unit or 'no unit'}, {direction})"
    text += f": {meta.description}" if meta.description else ""
    return text + (f"; {where}" if where else "")


def column_label(meta: m.MetricMeta) -> str:
    """One naming scheme for every metric column: "latency p50 ↓" and its unit below."""
    arrow = {Better.HIGHER: " ↑", Better.LOWER: " ↓"}.get(meta.better, "")
    symbol = m.header_unit(meta.label, meta.unit)
    return meta.label + arrow + (f"\n({symbol})" if symbol else "")


def params_table(data: ExperimentData) -> Table | None:
    """Only the parameters that differ between variants: what actually distinguishes them."""
    flat = [flatten(r.params) for r in data.records]
    keys = set().union(*flat)
    # A parameter one variant lacks differs from every value another may give it.
    varying = sorted(k for k in keys if len({(k in p, json.dumps(p.get(k))) for p in flat}) > 1)
    if not varying:
        return None
    rows = [
        [Cell(record.variant)] + [Cell(_text(params.get(k))) for k in varying]
        for record, params in zip(data.records, flat, strict=True)
    ]
    return Table(
        f"params-{data.slug}",
        ["variant"] + varying,
        rows,
        caption="Parameters that differ between variants.",
    )


def _text(value: object) -> str:
    return "" if value is None else str(value)


def flatten(params: dict, prefix: str = "") -> dict[str, object]:
    """Nested config as dotted keys (train.epochs); lists as JSON text."""
    out: dict[str, object] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, str | int | float | bool) or value is None:
            out[name] = value
        else:
            out[name] = json.dumps(value, sort_keys=True)
    return out


def quantization_table(data: ExperimentData) -> Table | None:
    """Study 5's shape: test/train accuracy, ms per image, size in KB, objective score."""
    if "objective" not in data.frame.columns:
        return None
    present = set(data.frame.columns)
    train = m.first_present(("accuracy_train", "train_accuracy"), present)
    spec = [
        ("accuracy", "test acc. %", lambda v: f"{v * 100:.2f}"),
        (train or "accuracy_train", "train acc. %", lambda v: f"{v * 100:.2f}"),
        ("latency_ms_p50", "host CPU ms / image", lambda v: f"{v:.3f}"),
    ]
    if speed := m.first_present(m.SPEED_KEYS, present):  # beside it: what the Edge TPU takes
        spec.append((speed, f"{data.metas[speed].label} ms", lambda v: f"{v:.3f}"))
    spec += [
        ("size_bytes", "size KB", lambda v: f"{v / 1024:,.0f}"),
        ("objective", "objective", lambda v: f"{v:.2f}"),
    ]
    spec = [s for s in spec if s[0] in present]
    rows = []
    for record in data.records:
        row = [Cell(record.variant)]
        for key, _, fmt in spec:
            cell = data.cell(record, key)
            if cell.sort is not None:
                cell.text = fmt(cell.sort) + data.range_text(record.variant, key, "ms")
            row.append(cell)
        rows.append(row)
    return Table(
        f"quant-{data.slug}",
        ["variant"] + [s[1] for s in spec],
        rows,
        caption="Objective: the sum of the relative changes of size, host-CPU latency and "
        "accuracy against the unquantized model (lower is better).",
    )


def compression_table(data: ExperimentData) -> Table | None:
    """Study 4's shape: FP32 / INT8 top-1 and 'size → gzip (compression %)' per variant."""
    frame = data.frame
    if not {"size_bytes", "gzip_bytes"} <= set(frame.columns):
        return None
    records = data.records
    rows = []
    if "accuracy_int8" in frame.columns:
        accuracies = (("accuracy", "FP32 top-1"), ("accuracy_int8", "INT8 top-1"))
    else:  # the runners' names: the Keras model (fake-quant for QAT) and the deployed .tflite
        accuracies = (
            ("accuracy_keras", "Keras top-1 (FP32 / fake-quant)"),
            ("accuracy", "TFLite top-1 (deployed)"),
        )
    for key, label in accuracies:
        if key in frame.columns:
            rows.append([Cell(label)] + [data.cell(r, key, "fraction") for r in records])
    row = [Cell("compression (size → gzip)")]
    for record in records:
        size, gzip = (
            data.value(record.variant, "size_bytes"),
            data.value(record.variant, "gzip_bytes"),
        )
        cell = data.cell(record, "compression_pct", "%")
        if size is not None and gzip is not None and size > 0:
            cell = data.cell(record, "gzip_bytes")
            cell.text = f"{size:,.0f} → {gzip:,.0f} ({(1 - gzip / size) * 100:.2f} %)"
            cell.sort = 1 - gzip / size
        row.append(cell)
    rows.append(row)
    return Table(
        f"compress-{data.slug}",
        ["model"] + data.variants,
        rows,
        filterable=False,
        caption="Compression = 1 − gzip size / size, as in the TFMOT tables.",
    )


def coco_table(data: ExperimentData) -> Table | None:
    """Study 1's shape: one row per COCO metric, one column per model in the order they are
    made (Keras, float, int8), and the change from the first to the last."""
    keys = [k for k in data.frame.columns if k.startswith("coco_")]
    if not keys:
        return None
    measured = data.frame[keys].notna().any(axis=1)
    records = [r for r in model_order(data.records) if measured[r.variant]]
    first, last = records[0], records[-1]
    delta = len(records) > 1
    rows = []
    for key in _coco_order(keys):
        row = [Cell(key.removeprefix("coco_").replace("_", "/", 1))]
        row += [data.cell(r, key, "AP") for r in records]
        if delta:
            a, b = data.value(first.variant, key), data.value(last.variant, key)
            valid = a is not None and b is not None and a >= 0 and b >= 0
            row.append(Cell(f"{b - a:+.3f}", sort=b - a) if valid else Cell("–"))
        rows.append(row)
    names = [r.variant for r in records]
    columns = ["metric"] + names + ([f"Δ {last.variant} − {first.variant}"] if delta else [])
    return Table(
        f"coco-{data.slug}",
        columns,
        rows,
        filterable=False,
        caption="COCO metrics (pycocotools); -1 means no objects of that size.",
    )


def _coco_order(keys: list[str]) -> list[str]:
    standard = [
        "coco_AP",
        "coco_AP50",
        "coco_AP75",
        "coco_APs",
        "coco_APm",
        "coco_APl",
        "coco_ARmax1",
        "coco_ARmax10",
        "coco_ARmax100",
        "coco_ARs",
        "coco_ARm",
        "coco_ARl",
    ]
    return [k for k in standard if k in keys] + sorted(k for k in keys if k not in standard)
