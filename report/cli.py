"""Build the static report site from a results directory.

Reads results/<experiment>/<variant>.json records and the analysis JSONs they reference
(plus any given with --analysis; given alone, they make the whole site) and writes a
self-contained site: overview with the verdict, one page per experiment (tables, Pareto
charts, study tables), a compare page per experiment (any two variants in any two runs), a
history page per experiment (each metric across the runs of results/history/), the regressions
found there (with an Atom feed), one diagnostics page per analyzed model, supported ops,
environment. All links are relative, so the directory works from file://,
`tpulens serve` and GitHub Pages.

Examples:
  tpulens report --results results --out site
  tpulens analyze m.tflite --json > m.json && tpulens report --analysis m.json
  tpulens report --results results --analysis my_model.json --screenshots docs/img
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from tpulens import extras
from tpulens.errors import InputError
from tpulens.report import files
from tpulens.report.files import MAX_MODEL_BYTES, ModelFiles

HELP = "build the static site (dashboards and op-level diagnostics) from results/"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--results",
        type=Path,
        help="results directory (default: results; with --analysis alone, none: a site of "
        "those analyses only)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("site"),
        help="output directory, replaced on each build (default: site)",
    )
    parser.add_argument(
        "--analysis",
        type=Path,
        nargs="+",
        default=[],
        metavar="JSON",
        help="extra analysis JSONs (tpulens analyze --json) to publish",
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="suite whose [diff] thresholds decide what counts as a regression (default: "
        "./benchmarks.toml if present, else built-in defaults)",
    )
    parser.add_argument(
        "--no-models",
        action="store_true",
        help="publish no model file beside its diagnostics page (no download, no Netron link)",
    )
    parser.add_argument(
        "--max-model-mb",
        type=float,
        default=MAX_MODEL_BYTES / 1e6,
        metavar="MB",
        help="publish only model files up to this size (default: %(default)g MB)",
    )
    parser.add_argument(
        "--screenshots",
        type=Path,
        metavar="DIR",
        help="also write overview.png, diagnostics.png and (with detection pictures) "
        "detections.png into DIR "
        "(needs playwright and /usr/bin/chromium)",
    )


def run(args: argparse.Namespace) -> int:
    extras.require("report")
    from tpulens.history.settings import read_settings
    from tpulens.report.site import build_site

    if not args.max_model_mb >= 0:
        raise InputError(f"--max-model-mb {args.max_model_mb:g}: must be 0 or more")
    results = args.results
    if results is None and not args.analysis:
        results = Path("results")
    models = ModelFiles(not args.no_models, int(args.max_model_mb * 1e6))
    with tempfile.TemporaryDirectory(prefix="tpulens-analyses-") as folder:
        analyses, names = split_analyses(args.analysis, Path(folder), models)
        result = build_site(results, args.out, analyses, settings=read_settings(args.config),
                            model_files=models)
    for problem in result.problems:
        for part, name in names.items():
            problem = problem.replace(part, name)
        print(f"tpulens report: warning: {problem}", file=sys.stderr)
    print(f"{len(result.pages)} pages written to {result.out}/ (open {result.out}/index.html)")
    if args.screenshots:
        from tpulens.report.screenshots import take_screenshots

        for path in take_screenshots(result.out, args.screenshots):
            print(f"screenshot: {path}")
    return 0


def split_analyses(paths: list[Path], folder: Path,
                   models: ModelFiles) -> tuple[list[Path], dict[str, str]]:
    """The --analysis files as files of one analysis each, and what to call each part in
    messages. A file of several (JSON Lines or an array, as `tpulens analyze --json` writes for
    several models) is split into `folder`, each part beside a copy of the model it names when
    the site may publish it from the file's own folder. InputError when no file holds one."""
    from tpulens.analyzer.analyze import SCHEMA_VERSION
    from tpulens.report.contract import is_analysis, schema_problem
    from tpulens.report.load import slugify

    given, names, refused = [], {}, []
    for k, path in enumerate(paths):
        try:
            documents = files.read_json_documents(path, files.MAX_ANALYSIS_BYTES)
        except files.Unusable as err:
            refused.append(f"{path}: {err}")
            given.append(path)  # the build reports it too, with the other problems
            continue
        usable = [d for d in documents if is_analysis(d) and not schema_problem(d, SCHEMA_VERSION)]
        if not usable:
            refused.append(f"{path}: no analysis JSON in it (tpulens analyze --json)")
        if len(documents) == 1 and _one_object(path):
            given.append(path)
            continue
        base, parts = path.resolve().parent, folder / str(k)
        parts.mkdir()
        names[str(parts)] = str(base)
        for i, document in enumerate(documents, 1):
            model = document.get("model")
            value = model.get("path") if isinstance(model, dict) else None
            stem = slugify(Path(value).stem if isinstance(value, str) else path.stem)
            part = parts / f"{stem}.json"
            if part.exists():
                part = parts / f"{stem}-{i}.json"
            if isinstance(value, str):
                _copy_model(model, base, parts, models)
            part.write_text(json.dumps(document))
            names[str(part)] = f"{path} (document {i})"
            given.append(part)
    if refused and len(refused) == len(paths):
        raise InputError("; ".join(refused))
    return given, dict(sorted(names.items(), key=lambda item: -len(item[0])))


def _one_object(path: Path) -> bool:
    """Whether the file holds a plain JSON object (not an array or JSON Lines)."""
    try:
        files.read_json_object(path, files.MAX_ANALYSIS_BYTES)
    except files.Unusable:
        return False
    return True


def _copy_model(model: dict, base: Path, parts: Path, models: ModelFiles) -> None:
    """Copy the model a part names into `parts` at the same relative place, if the site may
    publish it from `base` (the analysis file's own folder); if only the size or --no-models
    stands in the way, the part names no model file."""
    try:
        source = files.confined(base, model["path"], (base,))
    except files.Unusable:
        return  # the build says why it is not published
    if source.suffix != ".tflite" or not source.is_file():
        return
    if models.refusal(source):
        del model["path"]
        return
    relative = source.relative_to(base)
    copy = parts / relative
    if not copy.exists():
        try:
            data = files.read_regular(source, models.max_bytes)
        except files.Unusable:
            return
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(data)
    model["path"] = relative.as_posix()
