"""Export the Keras detector to TFLite, float or full-integer int8, ending in the
`TFLite_Detection_PostProcess` custom op (as EfficientDet-Lite / SSD exports do).

There is no TensorFlow op for TFLite's post-processing: an empty `tf.function` annotated with
`experimental_implements` is legalized to the custom op by the MLIR converter, with the
attributes below. In the int8 model the box and score tensors reach the op through DEQUANTIZE,
which is what the Edge TPU compiler reports as "Operation is working on an unsupported data
type" in the study.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from tpulens.runners.detection.anchors import BOX_SCALES

POSTPROCESS_OP = "TFLite_Detection_PostProcess"


def implements_signature(
    num_classes: int,
    max_detections: int = 100,
    score_threshold: float = 0.01,
    iou_threshold: float = 0.5,
) -> str:
    """The NameAttrList text the converter reads (tensorflow/compiler/mlir/lite/utils/
    nms_utils.cc): fast class-agnostic NMS, one class per detection."""
    y_scale, x_scale, h_scale, w_scale = BOX_SCALES
    attrs = [
        ("max_detections", f"i: {max_detections}"),
        ("max_classes_per_detection", "i: 1"),
        ("use_regular_nms", "b: false"),
        ("nms_score_threshold", f"f: {score_threshold:f}"),
        ("nms_iou_threshold", f"f: {iou_threshold:f}"),
        ("y_scale", f"f: {y_scale:f}"),
        ("x_scale", f"f: {x_scale:f}"),
        ("h_scale", f"f: {h_scale:f}"),
        ("w_scale", f"f: {w_scale:f}"),
        ("num_classes", f"i: {num_classes}"),
    ]
    parts = [f'name: "{POSTPROCESS_OP}"']
    parts += [f'attr {{ key: "{key}" value {{ {value} }} }}' for key, value in attrs]
    return " ".join(parts)


def serving_module(model, anchors: np.ndarray, image_size: int, num_classes: int):
    """A tf.Module whose `serve` maps a [1, S, S, 3] float image (pixels 0..255) to
    boxes, classes, scores, count through the post-processing op."""
    import tensorflow as tf

    @tf.function(experimental_implements=implements_signature(num_classes))
    def postprocess(box_encodings, class_scores, anchor_boxes):
        del box_encodings, class_scores, anchor_boxes  # the converter replaces this body
        return (
            tf.constant(0.0, name="boxes"),
            tf.constant(0.0, name="classes"),
            tf.constant(0.0, name="scores"),
            tf.constant(0.0, name="num_detections"),
        )

    class Serving(tf.Module):
        def __init__(self):
            super().__init__()
            # Track the variables, not the Keras model: saving a tracked tf_keras model traces
            # every layer for Keras metadata, which made each conversion ~30 s slower.
            self.model_variables = list(model.variables)

        @tf.function(input_signature=[tf.TensorSpec([1, image_size, image_size, 3], tf.float32)])
        def serve(self, image):
            box_encodings, class_logits = model(image, training=False)
            return postprocess(box_encodings, tf.sigmoid(class_logits), tf.constant(anchors))

    return Serving()


def convert(
    model,
    anchors: np.ndarray,
    image_size: int,
    num_classes: int,
    quantize: str,
    calibration_images: Iterable[np.ndarray] = (),
) -> bytes:
    """TFLite flatbuffer bytes. quantize: "float" or "int8" (full-integer: int8 weights and
    activations, uint8 image input as the Edge TPU wants, float post-processing outputs)."""
    import tensorflow as tf

    module = serving_module(model, anchors, image_size, num_classes)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.serve.get_concrete_function()], module
    )
    converter.allow_custom_ops = True
    if quantize == "int8":
        calibration = [np.asarray(image, np.float32)[None] for image in calibration_images]
        if not calibration:
            raise ValueError("int8 export needs calibration images")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([image] for image in calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
    elif quantize != "float":
        raise ValueError(f"quantize must be 'float' or 'int8', not {quantize!r}")
    return converter.convert()
