"""`convert`: Keras model → `.tflite`, by post-training quantization or quantization-aware
training (QAT; with `preserve` = sparsity/clusters: PQAT, CQAT, PCQAT from TFMOT's
collaborative-optimization schemes).

PTQ methods: `float32` (no quantization), `dynamic_range` (int8 weights, float activations),
`float16` (float16 weights), `int8` (full integer from a representative dataset; `io` picks
float, uint8 or int8 input/output tensors).
"""

from __future__ import annotations

from tpulens.runners import datasets
from tpulens.runners.stages import StepResult
from tpulens.runners.stages import keras_utils as ku
from tpulens.runners.tfsetup import import_tf

QAT_LEARNING_RATE = 1e-4


def run(config: dict, inputs: dict, out_dir, ctx) -> StepResult:
    tf = import_tf()
    compress = config["compress"]
    data = ku.data(config, config["input_size"])
    model = ku.load(inputs["model"]["outputs"]["model"])
    metrics = {}
    if "accuracy_keras" in inputs["model"]["metrics"]:
        metrics["accuracy_keras"] = inputs["model"]["metrics"]["accuracy_keras"]
    if compress["method"] == "qat":
        ku.seed_finetuning()
        model = quantize_aware(model, compress.get("preserve", []))
        ku.compile_classifier(model, QAT_LEARNING_RATE)
        ku.fit(model, data.x_train, data.y_train, config["epochs"], config["batch_size"])
        ku.recalibrate_batchnorm(model, data.x_train)
        metrics["accuracy_keras"] = ku.accuracy(model, data.x_test, data.y_test)
    samples = datasets.representative(data.x_train, config["dataset"]["calibration_samples"])
    flatbuffer = convert(tf, model, compress["method"], compress.get("io", "float"), samples)
    path = out_dir / "model.tflite"
    path.write_bytes(flatbuffer)
    return StepResult(outputs={"tflite": str(path)}, metrics=metrics)


def quantize_aware(model, preserve: list[str]):
    """Wrap a model for QAT; the scheme keeps earlier sparsity and/or clusters intact."""
    import tensorflow_model_optimization as tfmot

    quantize = tfmot.quantization.keras
    combine = tfmot.experimental.combine
    if not preserve:
        return quantize.quantize_model(model)
    if "clusters" in preserve:
        scheme = combine.Default8BitClusterPreserveQuantizeScheme(
            preserve_sparsity="sparsity" in preserve)
    else:
        scheme = combine.Default8BitPrunePreserveQuantizeScheme()
    with quantize.quantize_scope():
        return quantize.quantize_apply(quantize.quantize_annotate_model(model), scheme)


def convert(tf, model, method: str, io: str, samples) -> bytes:
    converter = tf.lite.TFLiteConverter.from_keras_model(serving_module(tf, model))
    if method != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if method == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if method in ("int8", "qat"):
        converter.representative_dataset = lambda: ([s[None]] for s in samples)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if io != "float":
            io_type = {"uint8": tf.uint8, "int8": tf.int8}[io]
            converter.inference_input_type = io_type
            converter.inference_output_type = io_type
    return converter.convert()


def serving_module(tf, model):
    """The model's variables and the serving signature Keras would export, without the model.

    The converter saves what it is given as a SavedModel and converts that SavedModel's serving
    signature. Handed the Keras model, the save also traces every layer's functions so Keras
    could reload it: two thirds of a conversion's CPU time or more (measured: an int8
    EfficientNet 14.6 -> 5.0 CPU-s, an int8 MobileNet 3.1 -> 0.7, a CQAT MobileNet 25.1 -> 1.4).
    The .tflite comes out byte-identical either way (every method, I/O type and QAT scheme of
    the suite compared)."""
    from tf_keras.src.saving.legacy.saved_model.save_impl import default_save_signature

    module = tf.Module()
    module.model_variables = list(model.variables)
    module._default_save_signature = default_save_signature(model)  # the name save() exports
    return module
