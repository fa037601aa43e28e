"""Build the static site: results directory → pages under one output directory.

One function per page type. Output is deterministic (sorted inputs, no build timestamps,
stable chart ids) and every link is relative, so the same directory works from file://,
`tpulens serve` and a GitHub Pages sub-path.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import quote

import jinja2
from tpulens.analyzer.reference import supported_ops
from tpulens.report import metrics as m
from tpulens.report.charts import experiment_charts
from tpulens.report.diagnostics import model_page, node_data
from tpulens.report.load import Results, load_results, slugify
from tpulens.report.tables import (
    Cell,
    ExperimentData,
    Table,
    best_variants,
    coco_table,
    comparison_table,
    compression_table,
    experiment_data,
    params_table,
    quantization_table,
)

from tpulens.errors import InputError

TEMPLATES = "tpulens.templates"  # the package holding the Jinja2 templates and assets/
MARKER = ".tpulens-site"
PLOTLY_ASSET = "assets/plotly.min.js"


@dataclass
class Experiment:
    name: str
    slug: str
    data: ExperimentData


@dataclass
class BuildResult:
    out: Path
    pages: list[str]
    problems: list[str]


def jinja_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(TEMPLATES, "."),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["fmt"] = m.format_value
    env.filters["urlq"] = lambda s: quote(str(s), safe="")
    return env


class Writer:
    """Renders templates into the output directory, with `root` set for relative links."""

    def __init__(self, out: Path, env: jinja2.Environment, nav: dict):
        self.out, self.env, self.nav, self.pages = out, env, nav, []

    def page(self, rel: str, template: str, **context) -> None:
        root = "../" * rel.count("/")
        html = self.env.get_template(template).render(root=root, nav=self.nav, page=rel, **context)
        self.write(rel, html.encode())
        self.pages.append(rel)

    def write(self, rel: str, data: bytes) -> None:
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _json_bytes(data: object) -> bytes:
    return (json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()


def experiments_of(results: Results) -> list[Experiment]:
    taken: set[str] = set()
    out = []
    for name, records in results.experiments().items():
        slug, n = slugify(name), 2
        while slug.lower() in taken:
            slug, n = f"{slugify(name)}-{n}", n + 1
        taken.add(slug.lower())
        out.append(Experiment(name, slug, experiment_data(results, slug, records)))
    return out


def verdict(exp: Experiment) -> list[dict]:
    """Best ok variant per objective, with the value and where it was measured."""
    data = exp.data
    best = best_variants(data)
    rows = []
    for key in m.VERDICT_KEYS:
        if key not in data.metas or not best.get(key):
            continue
        winner = best[key][0]
        record = next(r for r in data.records if r.variant == winner)
        meta = data.metas[key]
        rows.append(
            {
                "objective": f"{meta.label} ({meta.better} is better)",
                "winners": winner_names(data, key, best[key]),
                "value": m.format_value(data.value(winner, key), meta.unit),
                "provenance": m.provenance(data.source(winner, key), record.environment),
                "badge": m.SOURCE_BADGES.get(data.source(winner, key), "?"),
            }
        )
    return rows


def study_tables(data: ExperimentData) -> list[tuple[str, Table]]:
    """The tables in the shape of the original write-ups, where their metrics exist."""
    tables = [
        ("Quantization objective", quantization_table(data)),
        ("Accuracy and compression", compression_table(data)),
        ("COCO metrics", coco_table(data)),
    ]
    return [(heading, t) for heading, t in tables if t is not None]


def winner_names(data: ExperimentData, key: str, winners: list[str]) -> list[str]:
    """The winners, or one phrase when every ok variant ties (no winner at all)."""
    ok = sum(r.status == "ok" and data.value(r.variant, key) is not None for r in data.records)
    return [f"all {ok} variants tie"] if len(winners) == ok > 1 else winners


def summary_table(experiments: list[Experiment]) -> Table:
    rows = []
    for exp in experiments:
        records = exp.data.records
        counts = {s: sum(r.status == s for r in records) for s in ("ok", "skipped", "failed")}
        other = len(records) - sum(counts.values())
        best = best_variants(exp.data)
        present = set(exp.data.frame.columns)
        row = [
            Cell(exp.name, href=f"experiments/{exp.slug}.html"),
            Cell(str(len(records)), sort=len(records)),
            Cell(f"{counts['ok']} / {counts['skipped']} / {counts['failed'] + other}"),
        ]
        for keys in (m.ACCURACY_KEYS, ("size_bytes",), m.LATENCY_KEYS, ("edgetpu_share",)):
            key = m.first_present(keys, present)
            if key and best.get(key):
                winner = best[key][0]
                record = next(r for r in records if r.variant == winner)
                cell = exp.data.cell(record, key)
                cell.text = f"{', '.join(winner_names(exp.data, key, best[key]))}: {cell.text}"
                row.append(cell)
            else:
                row.append(Cell("–", cls="missing"))
        row.append(Cell("compare", href=f"compare/{exp.slug}.html"))
        rows.append(row)
    return Table(
        "summary",
        [
            "experiment",
            "variants",
            "ok / skipped / failed",
            "best accuracy",
            "smallest",
            "fastest",
            "most on Edge TPU",
            "compare",
        ],
        rows,
    )


def compare_payload(exp: Experiment, results: Results) -> dict:
    """Small JSON the compare page's script reads: metrics and op placement per variant."""
    data = exp.data
    signatures: dict[tuple, int] = {}  # op sequence → its index in "opcodes" (insertion order)
    variants = []
    for record in data.records:
        slug = record.compiled_slug or record.analysis_slug
        analysis = results.analysis(slug)
        entry = {
            "name": record.variant,
            "status": record.status,
            "metrics": {},
            "model": f"../models/{slug}.html" if analysis else None,
            "table": [],
            "placement": "",
            "sig": None,
        }
        for key in data.frame.columns:
            value = data.value(record.variant, key)
            if value is not None:
                meta, source = data.metas[key], data.source(record.variant, key)
                entry["metrics"][key] = [
                    value,
                    m.format_value(value, meta.unit),
                    m.provenance(source, record.environment),
                    m.SOURCE_BADGES.get(source, "?"),
                ]
        if analysis:
            adata = analysis.data
            entry["table"] = [[r["operator"], r["status"], r["count"]] for r in adata["table"]]
            entry["placement"] = "".join(op["placement"][0] for op in adata["ops"])
            sig = tuple((op["subgraph"], op["index"], op["opcode"]) for op in adata["ops"])
            entry["sig"] = signatures.setdefault(sig, len(signatures))
        variants.append(entry)
    metrics = [
        {
            "key": k,
            "label": data.metas[k].label,
            "unit": data.metas[k].unit,
            "better": data.metas[k].better,
        }
        for k in data.frame.columns
    ]
    return {"variants": variants, "metrics": metrics, "opcodes": list(signatures)}


def environments(results: Results) -> list[dict]:
    groups: dict[str, dict] = {}
    for record in results.records:
        key = json.dumps(record.environment, sort_keys=True)
        group = groups.setdefault(
            key, {"environment": record.environment, "records": [], "commits": set(), "created": []}
        )
        group["records"].append(f"{record.experiment}/{record.variant}")
        if record.git_commit:
            group["commits"].add(record.git_commit)
        if record.created:
            group["created"].append(record.created)
    out = []
    for key in sorted(groups):
        g = groups[key]
        out.append(
            {
                "environment": sorted((str(k), _env_text(v)) for k, v in g["environment"].items()),
                "records": sorted(g["records"]),
                "commits": sorted(g["commits"]),
                "created": (min(g["created"]), max(g["created"])) if g["created"] else None,
            }
        )
    return out


def _env_text(value: object) -> str:
    if value is None:
        return "–"
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)




def _prepare(out: Path) -> Path:
    """A fresh temporary directory beside `out`; refuses to replace a directory it did not
    build, so `--out ~/` cannot wipe a home directory."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise InputError(f"{out}: exists and is not a tpulens site; choose another --out")
    tmp = out.parent / f".{out.name}.building"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def build_site(
    results_dir: Path, out: Path, extra_analyses: list[Path] = (), plotly_js: str | None = None
) -> BuildResult:
    """Render every page for results_dir into out (replaced atomically when done)."""
    results_dir, out = Path(results_dir), Path(out)
    if not results_dir.is_dir():
        raise InputError(f"{results_dir}: results directory not found")
    results = load_results(results_dir, list(extra_analyses))
    tmp = _prepare(out)
    try:
        pages = _render(results, tmp, plotly_js)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return BuildResult(out, pages, results.problems)


def _render(results: Results, out: Path, plotly_js: str | None) -> list[str]:
    experiments = experiments_of(results)
    rules = supported_ops()
    nav = {
        "experiments": bool(experiments),
        "models": bool(results.analyses),
        "supported_ops": True,
    }
    w = Writer(out, jinja_env(), nav)
    w.write(MARKER, b"built by tpulens report\n")
    for asset in sorted((resources.files(TEMPLATES) / "assets").iterdir(), key=lambda a: a.name):
        w.write(f"assets/{asset.name}", asset.read_bytes())
    if plotly_js is None:
        from plotly.offline import get_plotlyjs

        plotly_js = get_plotlyjs()
    w.write(PLOTLY_ASSET, plotly_js.encode())

    models = [model_page(a) for a in results.analyses]
    w.page(
        "index.html",
        "overview.html",
        title="Overview",
        results=results,
        experiments=experiments,
        verdicts={e.slug: verdict(e) for e in experiments},
        summary=summary_table(experiments),
        models=models,
        commits=sorted({r.git_commit for r in results.records if r.git_commit}),
        created=sorted(r.created for r in results.records if r.created),
    )
    for exp in experiments:
        data = exp.data
        w.page(
            f"experiments/{exp.slug}.html",
            "experiment.html",
            title=exp.name,
            exp=exp,
            verdict=verdict(exp),
            comparison=comparison_table(data, "../"),
            params=params_table(data),
            charts=experiment_charts(data),
            studies=study_tables(data),
        )
        w.page(
            f"compare/{exp.slug}.html",
            "compare.html",
            title=f"Compare: {exp.name}",
            exp=exp,
            payload=compare_payload(exp, results),
        )
    for analysis, page in zip(results.analyses, models, strict=True):
        w.write(f"models/{page.slug}.analysis.json", analysis.raw)
        w.write(f"models/{page.slug}.node_data.json", _json_bytes(node_data(analysis.data)))
        if analysis.tflite:
            w.write(f"models/{page.slug}.tflite", analysis.tflite.read_bytes())
        w.page(f"models/{page.slug}.html", "model.html", title=page.title, m=page)
    if models:
        w.page("models/index.html", "models.html", title="Model diagnostics", models=models)
    w.page("supported-ops.html", "supported_ops.html", title="Supported ops", rules=rules)
    w.page(
        "environment.html",
        "environment.html",
        title="Environment",
        environments=environments(results),
        problems=results.problems,
    )
    return w.pages
