"""Turn a validated suite and a profile into a graph of cached steps.

Each variant becomes a chain of steps (train → optimize… → convert → compile/evaluate for
classification; fetch → extract → compile/evaluate for zoo; dataset → train → export →
compile/evaluate for detection). A step's key hashes its stage, its resolved config, the keys
of the steps it reads and the stage's code (runners.code_keys), so identical steps shared by
variants (the float model of the quantization study, the pruned model under PQAT, the trained
detector behind its float and int8 exports) are built once, and any change re-runs exactly what
depends on it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

from tpulens.errors import InputError
from tpulens.runners import dataset_files
from tpulens.runners.cache import content_key
from tpulens.runners.code_keys import code_version
from tpulens.runners.config import Suite, merge
from tpulens.runners.detection import params as detection_params

EFFICIENTNET_COEFFICIENTS = {"alpha": 1.2, "beta": 1.1, "gamma": 1.15}


@dataclass
class Node:
    """One cached step: what runs (stage, config) and which steps' outputs it reads."""

    stage: str
    config: dict
    deps: dict[str, str]
    label: str

    @property
    def key(self) -> str:
        return content_key({"stage": self.stage,
                            "code": code_version(f"tpulens.runners.stages.{self.stage}"),
                            "config": self.config, "deps": self.deps})


@dataclass
class VariantPlan:
    """A variant: its resolved params and the step keys whose manifests make its record."""

    experiment: str
    variant: str
    kind: str
    params: dict
    steps: dict[str, str]  # role (train, optimize0, convert, compile, evaluate, ...) -> key
    baseline: str | None = None  # variant whose evaluate feeds the objective score
    record_key: str = ""


@dataclass
class Plan:
    profile: str
    nodes: dict[str, Node]
    variants: list[VariantPlan]


def build_plan(suite: Suite, profile_name: str, only: list[str] | None = None) -> Plan:
    """Resolve every selected variant of the profile into steps."""
    profile = suite.profile(profile_name)
    selected = profile.get("experiments") or list(suite.experiments)
    if only:
        unknown = sorted(set(only) - set(suite.experiments))
        if unknown:
            raise InputError(f"{suite.path}: --only: unknown experiment(s) {', '.join(unknown)} "
                             f"(defined: {', '.join(suite.experiments)})")
        selected = [e for e in suite.experiments if e in only]
    nodes: dict[str, Node] = {}
    variants: list[VariantPlan] = []
    for ename in selected:
        exp = suite.experiments[ename]
        planner = {"classification": _classification, "zoo": _zoo,
                   "detection": _detection}[exp["kind"]]
        variants.extend(planner(suite, ename, exp, profile_name, profile, nodes))
    by_name = {(v.experiment, v.variant): v for v in variants}
    for v in variants:
        baseline = by_name.get((v.experiment, v.baseline)) if v.baseline else None
        if v.baseline and baseline is None:
            v.baseline = None  # the baseline is not part of this profile
        # records are rewritten from cached steps when the code that assembles them changes
        v.record_key = content_key({"code": code_version("tpulens.runners.records"),
                                    "steps": v.steps,
                                    "baseline": baseline.steps if baseline else None,
                                    "params": v.params})
    return Plan(profile_name, nodes, variants)


def _add(nodes: dict, node: Node) -> str:
    nodes.setdefault(node.key, node)
    return node.key


def _selected_variants(exp: dict, profile_name: str) -> list[dict]:
    out = []
    for raw in exp["variants"]:
        variant = merge(exp.get("defaults", {}), raw)
        if "profiles" in raw and profile_name not in raw["profiles"]:
            continue
        out.append(variant)
    return out


def _classification(suite, ename, exp, profile_name, profile, nodes) -> list[VariantPlan]:
    dataset = resolve_dataset(suite, exp["dataset"], profile)
    all_variants = {v["name"]: merge(exp.get("defaults", {}), v) for v in exp["variants"]}
    train_keys: dict[str, str] = {}

    def train_key(name: str) -> str:
        if name in train_keys:
            return train_keys[name]
        variant = all_variants[name]
        train = dict(variant.get("train", {}))
        model_name = profile.get("models", {}).get(train["model"], train["model"])
        model = resolve_model(suite.data["models"][model_name], train.get("scale"))
        deps = {}
        if train.get("teacher"):
            deps["teacher"] = train_key(train["teacher"])
        config = {
            "dataset": dataset, "model": model,
            "epochs": _epochs(profile["epochs"], train.get("epochs_scale", 1.0)),
            "batch_size": profile.get("batch_size", 64),
            "learning_rate": train.get("learning_rate", 1e-3),
            "seed": train.get("seed", 0),
        }
        if train.get("teacher"):
            config["distill"] = {"alpha": train.get("alpha", 0.1),
                                 "temperature": train.get("temperature", 4.0)}
        train_keys[name] = _add(nodes, Node("train", config, deps, f"{ename}/{name}: train"))
        return train_keys[name]

    plans = []
    for variant in _selected_variants(exp, profile_name):
        name = variant["name"]
        label = f"{ename}/{name}"
        steps = {"train": train_key(name)}
        model_key = steps["train"]
        model_input_size = nodes[model_key].config["model"]["input_size"]
        for i, step in enumerate(variant.get("optimize", [])):
            config = {"step": step, "dataset": dataset, "batch_size": profile.get("batch_size", 64),
                      "epochs": _epochs(profile["finetune_epochs"], step.get("epochs_scale", 1.0)),
                      "input_size": model_input_size}
            model_key = _add(nodes, Node("optimize", config, {"model": model_key},
                                         f"{label}: {step['method']}"))
            steps[f"optimize{i}"] = model_key
        compress = dict(variant["compress"])
        compress.setdefault("io", "float")
        if compress["method"] != "qat":
            compress.pop("epochs_scale", None)  # only QAT trains: keep PTQ steps shareable
        convert_config = {"compress": compress, "dataset": dataset,
                          "input_size": model_input_size,
                          "batch_size": profile.get("batch_size", 64),
                          "epochs": _epochs(profile["finetune_epochs"],
                                            compress.get("epochs_scale", 1.0))
                          if compress["method"] == "qat" else 0}
        steps["convert"] = _add(nodes, Node("convert", convert_config, {"model": model_key},
                                            f"{label}: {compress['method']}"))
        _compile_and_evaluate(nodes, steps, variant, label, profile, dataset, model_input_size)
        params = {"dataset": exp["dataset"], "model": nodes[steps["train"]].config["model"],
                  "train": {k: v for k, v in nodes[steps["train"]].config.items()
                            if k not in ("dataset", "model")},
                  "optimize": variant.get("optimize", []), "compress": compress,
                  "samples": {k: dataset[k] for k in ("train_samples", "test_samples")}}
        if variant.get("train", {}).get("teacher"):
            params["teacher"] = variant["train"]["teacher"]
        if variant.get("train", {}).get("scale"):
            params["scale"] = variant["train"]["scale"]
        plans.append(VariantPlan(ename, name, "classification", params, steps,
                                 baseline=variant.get("evaluate", {}).get("objective_baseline")))
    return plans


def _epochs(profile_epochs: int, scale: float) -> float:
    """Epochs may be fractional: 0.5 trains one pass over half of the training subset."""
    return round(max(0.05, profile_epochs * scale), 3)


def _compile_and_evaluate(nodes, steps, variant, label, profile, dataset, input_size) -> None:
    compile_cfg = {"enabled": True, "compiler_version": "16.0", **variant.get("compile", {})}
    if compile_cfg["enabled"]:
        steps["compile"] = _add(nodes, Node("compile", compile_cfg, {"tflite": steps["convert"]},
                                            f"{label}: compile"))
    evaluate = {"latency": True, "accuracy": dataset is not None, **variant.get("evaluate", {})}
    evaluate.pop("objective_baseline", None)
    config = {"evaluate": evaluate, "dataset": dataset, "input_size": input_size,
              "latency_warmup": profile["latency_warmup"],
              "latency_runs": profile["latency_runs"]}
    deps = {"tflite": steps["convert"]}
    if "compile" in steps:
        deps["compile"] = steps["compile"]  # a compiled model can be timed on a device
    steps["evaluate"] = _add(nodes, Node("evaluate", config, deps, f"{label}: evaluate"))


def _zoo(suite, ename, exp, profile_name, profile, nodes) -> list[VariantPlan]:
    plans = []
    for variant in _selected_variants(exp, profile_name):
        label = f"{ename}/{variant['name']}"
        fetch = _add(nodes, Node("fetch", dict(variant["source"]), {}, f"{label}: fetch"))
        extract_cfg = {"member": variant["member"],
                       "compiled_member": variant.get("compiled_member")}
        steps = {"fetch": fetch,
                 "convert": _add(nodes, Node("extract", extract_cfg, {"package": fetch},
                                             f"{label}: extract"))}
        _compile_and_evaluate(nodes, steps, variant, label, profile, None, None)
        params = {"source": variant["source"], "member": variant["member"]}
        if variant.get("compiled_member"):
            params["compiled_member"] = variant["compiled_member"]
        plans.append(VariantPlan(ename, variant["name"], "zoo", params, steps))
    return plans


def _detection(suite, ename, exp, profile_name, profile, nodes) -> list[VariantPlan]:
    base = suite.path.parent
    plans = []
    for variant in _selected_variants(exp, profile_name):
        label = f"{ename}/{variant['name']}"
        p = detection_params.resolve(profile.get("detection", {}), variant.get("params", {}))
        steps = {"dataset": _add(nodes, Node("detection_dataset", _detection_data(p, base), {},
                                             f"{ename}: dataset"))}
        if p.tflite:
            tflite = resolve_path(p.tflite, base)
            steps["convert"] = _add(nodes, Node(
                "detection_export",
                {"tflite": str(tflite), "file": dataset_files.path_fingerprint(tflite)}, {},
                f"{label}: bring your own"))
        else:
            train = {"image_size": p.image_size, "epochs": p.epochs, "batch_size": p.batch_size,
                     "learning_rate": p.learning_rate, "seed": p.seed}
            steps["train"] = _add(nodes, Node("detection_train", train,
                                              {"dataset": steps["dataset"]}, f"{ename}: train"))
            if p.export != "keras":
                export = {"kind": p.export,
                          "calibration_images": p.calibration_images if p.export == "int8"
                          else 0}
                steps["convert"] = _add(nodes, Node(
                    "detection_export", export,
                    {"model": steps["train"], "dataset": steps["dataset"]},
                    f"{label}: export"))
        model = {"tflite": steps["convert"]} if "convert" in steps else {"model": steps["train"]}
        evaluate = {"eval_split": p.eval_split, "latency_runs": p.latency_runs,
                    "threads": p.threads, "score_threshold": p.score_threshold,
                    "float_range": list(p.float_range), "example_images": p.example_images}
        steps["evaluate"] = _add(nodes, Node("detection_evaluate", evaluate,
                                             {"dataset": steps["dataset"], **model},
                                             f"{label}: evaluate"))
        compile_cfg = {"enabled": True, "compiler_version": "16.0", **variant.get("compile", {})}
        if compile_cfg["enabled"] and "convert" in steps:
            steps["compile"] = _add(nodes, Node("compile", compile_cfg,
                                                {"tflite": steps["convert"]},
                                                f"{label}: compile"))
        params = {k: v for k, v in asdict(p).items() if v is not None}
        plans.append(VariantPlan(ename, variant["name"], "detection", params, steps))
    return plans


def _detection_data(p, base: Path) -> dict:
    """The dataset step's config: the generated set's recipe, or the user's files' identity."""
    config = {"seed": p.seed, "labels": list(p.labels) if p.labels else None}
    if not p.dataset:
        config["generate"] = {"images": p.images, "image_size": p.image_size,
                              "classes": list(p.classes), "seed": p.seed}
        return config
    path = resolve_path(p.dataset, base)
    images_dir = resolve_path(p.images_dir, base) if p.images_dir else None
    config["source"] = {"path": str(path), "files": dataset_files.path_fingerprint(path),
                        "images_dir": str(images_dir) if images_dir else None,
                        "image_files": dataset_files.path_fingerprint(images_dir)
                        if images_dir else None}
    return config


def resolve_path(value: str, base: Path) -> Path:
    """A path of the suite: absolute, or relative to the folder of benchmarks.toml."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def resolve_dataset(suite: Suite, name: str, profile: dict) -> dict:
    """The dataset table plus the profile's sample counts and the input files' identity."""
    table = dict(suite.data["datasets"][name])
    table["id"] = name
    if table["kind"] in ("fashion_mnist", "idx", "image_folder"):
        table["path"] = str(dataset_files.resolve_path(table, suite.path.parent))
        table["files"] = dataset_files.fingerprint(table)
    for k in ("train_samples", "test_samples", "eval_train_samples", "calibration_samples"):
        table[k] = profile[k]
    return table


def resolve_model(model: dict, scale: dict | None) -> dict:
    """Apply EfficientNet compound scaling: depth α^φ, width β^φ, resolution γ^φ."""
    model = dict(model)
    if not scale:
        return model
    coeffs = {k: scale.get(k, v) for k, v in EFFICIENTNET_COEFFICIENTS.items()}
    phi = scale["phi"]
    if "depth" in scale["dims"]:
        model["depth_coefficient"] = round(model.get("depth_coefficient", 1.0)
                                           * coeffs["alpha"] ** phi, 4)
    if "width" in scale["dims"]:
        model["width_coefficient"] = round(model.get("width_coefficient", 1.0)
                                           * coeffs["beta"] ** phi, 4)
    if "resolution" in scale["dims"]:
        model["input_size"] = int(math.ceil(model["input_size"] * coeffs["gamma"] ** phi / 2) * 2)
    return model
