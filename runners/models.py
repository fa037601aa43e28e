"""Keras (tf_keras) classifier builders, small enough to train on Fashion-MNIST in seconds.

- `small_cnn`: two conv blocks and a dense head (the distillation teacher/student shape).
- `mobilenet`: MobileNet v1 style (depthwise-separable blocks, ReLU6) with a width multiplier.
- `efficientnet`: MBConv blocks (inverted residual, depthwise, linear bottleneck) with
  squeeze-excite and swish, scaled by width/depth coefficients as in EfficientNet; `lite`
  drops squeeze-excite and swish for ReLU6, as EfficientNet-Lite does for the Edge TPU.
- `keras_application`: any `tf.keras.applications` net with `weights=None`.
"""

from __future__ import annotations

import math

from tpulens.runners.tfsetup import import_tf

# (expand ratio, output filters, repeats, stride, kernel) at width/depth 1.0. Repeats grow as
# ceil(repeats · 1.2^phi) (EfficientNet's rule): with all-ones every phi ≥ 1 would give 2, so the
# stages repeat 1, 2, 2, 3 (phi 1 → 2, 3, 3, 4; phi 2 → 2, 3, 3, 5).
DEFAULT_MBCONV_BLOCKS = [[1, 8, 1, 1, 3], [4, 16, 2, 2, 3], [4, 24, 2, 2, 3], [4, 32, 3, 1, 3]]
DEFAULT_MOBILENET_FILTERS = [32, 64, 64, 128]
# Keras' 0.99 needs hundreds of steps before the moving statistics are usable; these nets
# train for a few dozen in the quick profile.
BN_MOMENTUM = 0.9


def build(spec: dict, input_shape: tuple[int, int, int], classes: int, seed: int):
    """The model a resolved model table describes (outputs logits). Keras numbers its layers
    across every model a process builds: its counters are reset first, so a model's layer
    names (its TFLite tensor names, and so its file size and the ops a history matches by
    name) do not depend on what its worker built before."""
    tf = import_tf()
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(seed)
    builder = {"small_cnn": small_cnn, "mobilenet": mobilenet, "efficientnet": efficientnet,
               "keras_application": keras_application}[spec["builder"]]
    return builder(tf, spec, input_shape, classes)


def small_cnn(tf, spec, input_shape, classes):
    layers = tf.keras.layers
    inputs = layers.Input(input_shape)
    x = inputs
    for filters in spec.get("filters", [16, 32]):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    return _classifier(tf, inputs, x, spec, classes, "small_cnn")


def mobilenet(tf, spec, input_shape, classes):
    layers = tf.keras.layers
    alpha = spec.get("alpha", 1.0)
    filters = [max(8, int(f * alpha)) for f in spec.get("filters", DEFAULT_MOBILENET_FILTERS)]
    inputs = layers.Input(input_shape)
    x = layers.Conv2D(filters[0], 3, strides=2, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
    x = layers.ReLU(6.0)(x)
    for i, f in enumerate(filters[1:]):
        stride = 2 if i % 2 == 1 else 1
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
        x = layers.ReLU(6.0)(x)
        x = layers.Conv2D(f, 1, use_bias=False)(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
        x = layers.ReLU(6.0)(x)
    x = layers.GlobalAveragePooling2D()(x)
    return _classifier(tf, inputs, x, spec, classes, "mobilenet")


def _classifier(tf, inputs, features, spec, classes, name):
    """The optional dense + dropout head and the logits layer shared by the small nets."""
    layers = tf.keras.layers
    x = features
    if spec.get("dense"):
        x = layers.Dense(spec["dense"], activation="relu")(x)
    if spec.get("dropout"):
        x = layers.Dropout(spec["dropout"])(x)
    return tf.keras.Model(inputs, layers.Dense(classes)(x), name=name)


def round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """EfficientNet's channel rounding: scale, round to a multiple of divisor, keep ≥ 90 %."""
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor) if rounded < 0.9 * scaled else int(rounded)


def round_repeats(repeats: int, depth: float) -> int:
    return int(math.ceil(repeats * depth))


def efficientnet(tf, spec, input_shape, classes):
    layers = tf.keras.layers
    width = spec.get("width_coefficient", 1.0)
    depth = spec.get("depth_coefficient", 1.0)
    lite = spec.get("lite", False)

    def act(x):
        return layers.ReLU(6.0)(x) if lite else layers.Activation("swish")(x)

    inputs = layers.Input(input_shape)
    x = layers.Conv2D(round_filters(16, width), 3, strides=1, padding="same", use_bias=False)(
        inputs)
    x = act(layers.BatchNormalization(momentum=BN_MOMENTUM)(x))
    for expand, out_filters, repeats, stride, kernel in spec.get("blocks", DEFAULT_MBCONV_BLOCKS):
        out_filters = round_filters(out_filters, width)
        for r in range(round_repeats(repeats, depth)):
            x = _mbconv(layers, x, expand, out_filters, stride if r == 0 else 1, kernel, lite,
                        act)
    x = act(layers.BatchNormalization(momentum=BN_MOMENTUM)(
        layers.Conv2D(round_filters(64, width), 1, use_bias=False)(x)))
    x = layers.GlobalAveragePooling2D()(x)
    if spec.get("dropout"):
        x = layers.Dropout(spec["dropout"])(x)
    name = "efficientnet_lite" if lite else "efficientnet"
    return tf.keras.Model(inputs, layers.Dense(classes)(x), name=name)


def _mbconv(layers, inputs, expand, out_filters, stride, kernel, lite, act):
    """Inverted residual: expand 1×1 → depthwise → (squeeze-excite) → linear 1×1 projection."""
    in_filters = inputs.shape[-1]
    x = inputs
    if expand != 1:
        x = act(layers.BatchNormalization(momentum=BN_MOMENTUM)(
            layers.Conv2D(in_filters * expand, 1, use_bias=False)(x)))
    x = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False)(x)
    x = act(layers.BatchNormalization(momentum=BN_MOMENTUM)(x))
    if not lite:
        squeezed = max(1, in_filters // 4)
        se = layers.GlobalAveragePooling2D(keepdims=True)(x)
        se = layers.Conv2D(squeezed, 1, activation="swish")(se)
        se = layers.Conv2D(x.shape[-1], 1, activation="sigmoid")(se)
        x = layers.Multiply()([x, se])
    x = layers.Conv2D(out_filters, 1, use_bias=False)(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
    if stride == 1 and in_filters == out_filters:
        x = layers.Add()([x, inputs])
    return x


def keras_application(tf, spec, input_shape, classes):
    name = spec.get("application", "MobileNetV2")
    factory = getattr(tf.keras.applications, name)
    kwargs = {"weights": None, "input_shape": input_shape, "classes": classes,
              "classifier_activation": None}
    if "alpha" in spec:
        kwargs["alpha"] = spec["alpha"]
    return factory(**kwargs)


def count_macs(model) -> int:
    """Multiply-accumulates per image of the conv, depthwise and dense layers (the FLOP budget
    EfficientNet's scaling trades against accuracy)."""
    tf = import_tf()
    layers = tf.keras.layers
    total = 0
    for layer in model.layers:
        layer = getattr(layer, "layer", layer)  # look through tfmot wrappers
        if isinstance(layer, layers.DepthwiseConv2D):
            _, h, w, c = layer.output_shape
            kh, kw = layer.kernel_size
            total += h * w * c * kh * kw
        elif isinstance(layer, layers.Conv2D):
            _, h, w, c_out = layer.output_shape
            kh, kw = layer.kernel_size
            total += h * w * c_out * kh * kw * layer.input_shape[-1] // layer.groups
        elif isinstance(layer, layers.Dense):
            total += int(layer.input_shape[-1]) * layer.units
    return int(total)
