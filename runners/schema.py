"""The schema of `benchmarks.toml` as data: every table's keys, their types, bounds, allowed
values and whether they are required (checked by runners.config)."""

from __future__ import annotations

from dataclasses import dataclass

from tpulens.runners.detection import params as detection


@dataclass(frozen=True)
class Key:
    """One allowed key: its type(s), whether it is required, allowed values or bounds, the
    type of a list's items, and the schema of a table or of a list's tables."""

    types: tuple
    required: bool = False
    choices: tuple = ()
    schema: str | None = None
    bounds: tuple | None = None  # (lowest, highest), inclusive; numbers must be finite
    items: type | tuple | None = None


def key(types, required=False, choices=(), schema=None, bounds=None, items=None) -> Key:
    return Key(types if isinstance(types, tuple) else (types,), required, tuple(choices), schema,
               bounds, items)


NUM = (int, float)
COUNT = (0, 10_000_000)
EPOCHS = (1, 1000)
SCALE = (0.01, 100)
SEED = (0, 2**32 - 1)

SCHEMAS: dict[str, dict[str, Key]] = {
    "root": {
        "schema_version": key(int, required=True, choices=(1,)),
        "profiles": key(dict, required=True, schema="profiles"),
        "datasets": key(dict, schema="datasets"),
        "models": key(dict, schema="models"),
        "experiments": key(dict, required=True, schema="experiments"),
        "history": key(dict),  # keys checked by tpulens.history.settings
        "diff": key(dict),
    },
    "profile": {
        "description": key(str),
        "experiments": key(list, items=str),
        "train_samples": key(int, required=True, bounds=COUNT),  # 0: all
        "test_samples": key(int, required=True, bounds=COUNT),
        "eval_train_samples": key(int, required=True, bounds=COUNT),
        "calibration_samples": key(int, required=True, bounds=(1, 100_000)),
        "epochs": key(int, required=True, bounds=EPOCHS),
        "finetune_epochs": key(int, required=True, bounds=EPOCHS),
        "batch_size": key(int, bounds=(1, 65_536)),
        "latency_warmup": key(int, required=True, bounds=(0, 100_000)),
        "latency_runs": key(int, required=True, bounds=(1, 1_000_000)),
        "detection": key(dict, schema="detection_profile"),
        "models": key(dict),  # model name -> the model this profile trains instead
    },
    "dataset": {
        "kind": key(str, required=True, choices=("fashion_mnist", "idx", "image_folder", "keras")),
        "path": key(str),
        "name": key(str),
        "image_size": key(list, items=int),
        "grayscale": key(bool),
        "test_fraction": key(float, bounds=(0.01, 0.99)),
        "seed": key(int, bounds=SEED),
    },
    "model": {
        "builder": key(str, required=True,
                       choices=("small_cnn", "mobilenet", "efficientnet", "keras_application")),
        "input_size": key(int, required=True, bounds=(8, 1024)),
        "filters": key(list, items=int),
        "dense": key(int, bounds=(1, 65_536)),
        "alpha": key(NUM, bounds=(0.05, 4)),
        "blocks": key(list, items=list),
        "width_coefficient": key(NUM, bounds=(0.05, 10)),
        "depth_coefficient": key(NUM, bounds=(0.05, 10)),
        "lite": key(bool),
        "dropout": key(NUM, bounds=(0, 0.95)),
        "application": key(str),
    },
    "experiment": {
        "kind": key(str, required=True, choices=("classification", "zoo", "detection")),
        "description": key(str),
        "dataset": key(str),
        "defaults": key(dict, schema="variant"),
        "variants": key(list, required=True, schema="variant"),
    },
    "variant": {
        "name": key(str),
        "description": key(str),
        "profiles": key(list, items=str),
        "train": key(dict, schema="train"),
        "optimize": key(list, schema="optimize"),
        "compress": key(dict, schema="compress"),
        "compile": key(dict, schema="compile"),
        "evaluate": key(dict, schema="evaluate"),
        # zoo
        "source": key(dict, schema="source"),
        "member": key(list, items=str),
        "compiled_member": key(list, items=str),
        # detection
        "params": key(dict, schema="detection"),
    },
    "train": {
        "model": key(str),
        "epochs_scale": key(NUM, bounds=SCALE),
        "learning_rate": key(NUM, bounds=(1e-7, 10)),
        "seed": key(int, bounds=SEED),
        "teacher": key(str),
        "alpha": key(NUM, bounds=(0, 1)),
        "temperature": key(NUM, bounds=(0.01, 100)),
        "scale": key(dict, schema="scale"),
    },
    "scale": {
        "phi": key(int, required=True, bounds=(0, 8)),
        "dims": key(list, required=True, items=str),
        "alpha": key(NUM, bounds=(1, 3)),
        "beta": key(NUM, bounds=(1, 3)),
        "gamma": key(NUM, bounds=(1, 3)),
    },
    "optimize": {
        "method": key(str, required=True, choices=("prune", "cluster")),
        "target_sparsity": key(NUM, bounds=(0.01, 0.99)),
        "clusters": key(int, bounds=(2, 256)),
        "preserve_sparsity": key(bool),
        "epochs_scale": key(NUM, bounds=SCALE),
    },
    "compress": {
        "method": key(str, required=True,
                      choices=("float32", "dynamic_range", "float16", "int8", "qat")),
        "io": key(str, choices=("float", "uint8", "int8")),
        "preserve": key(list, items=str),
        "epochs_scale": key(NUM, bounds=SCALE),
    },
    "compile": {
        "enabled": key(bool),
        "compiler_version": key(str),
    },
    "evaluate": {
        "latency": key(bool),
        "accuracy": key(bool),
        "objective_baseline": key(str),
    },
    "source": {
        "registry": key(str, required=True, choices=("pypi", "npm")),
        "package": key(str, required=True),
        "version": key(str, required=True),
    },
    "detection": {
        "export": key(str, choices=detection.EXPORTS),
        "seed": key(int, bounds=SEED),
        "images": key(int, bounds=(5, 100_000)),
        "image_size": key(int, bounds=(64, 1024)),
        "epochs": key(int, bounds=(1, 10_000)),
        "batch_size": key(int, bounds=(1, 1024)),
        "learning_rate": key(NUM, bounds=(1e-7, 10)),
        "classes": key(list, items=str),
        "eval_split": key(str, choices=detection.SPLITS),
        "calibration_images": key(int, bounds=(1, 100_000)),
        "latency_runs": key(int, bounds=(1, 1_000_000)),
        "threads": key(int, bounds=(1, 256)),
        "score_threshold": key(NUM, bounds=(0, 1)),
        "example_images": key(int, bounds=(0, 32)),
        "tflite": key(str),
        "dataset": key(str),
        "images_dir": key(str),
        "labels": key(list, items=str),
        "float_range": key(list, items=NUM),
    },
}
SCHEMAS["detection_profile"] = {k: SCHEMAS["detection"][k] for k in detection.PROFILE_KEYS}
TABLES_OF = {"profiles": "profile", "datasets": "dataset", "models": "model",
             "experiments": "experiment"}
KIND_KEYS = {"classification": {"name", "description", "profiles", "train", "optimize",
                                "compress", "compile", "evaluate"},
             "zoo": {"name", "description", "profiles", "source", "member", "compiled_member",
                     "compile", "evaluate"},
             "detection": {"name", "description", "profiles", "params", "compile"}}
TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true/false",
              list: "an array", dict: "a table"}
