"""Model builders, compound scaling and the distillation loss (TensorFlow, tiny shapes)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tf_keras")

from tpulens.runners import models  # noqa: E402
from tpulens.runners.plan import resolve_model  # noqa: E402
from tpulens.runners.stages import train  # noqa: E402
from tpulens.runners.tfsetup import import_tf  # noqa: E402


@pytest.mark.parametrize("spec", [
    {"builder": "small_cnn", "input_size": 28, "filters": [4, 8], "dense": 16},
    {"builder": "mobilenet", "input_size": 32, "filters": [8, 16, 16], "dense": 8},
    {"builder": "efficientnet", "input_size": 32},
    {"builder": "efficientnet", "input_size": 32, "lite": True},
    {"builder": "keras_application", "input_size": 32, "application": "MobileNetV2",
     "alpha": 0.35},
])
def test_builders_output_logits_per_class(spec):
    channels = 3 if spec["builder"] == "keras_application" else 1
    model = models.build(spec, (spec["input_size"], spec["input_size"], channels), 10, seed=0)
    assert model.output_shape == (None, 10)
    assert models.count_macs(model) > 0


def test_layer_names_do_not_depend_on_the_models_built_before():
    spec = {"builder": "small_cnn", "input_size": 28, "filters": [4, 8], "dense": 16}
    first = [layer.name for layer in models.build(spec, (28, 28, 1), 10, 0).layers]
    models.build({"builder": "efficientnet", "input_size": 32}, (32, 32, 1), 10, 0)
    again = [layer.name for layer in models.build(spec, (28, 28, 1), 10, 0).layers]
    assert again == first and "conv2d" in first


def test_lite_drops_squeeze_excite_and_swish():
    tf = import_tf()
    full = models.build({"builder": "efficientnet", "input_size": 32}, (32, 32, 1), 10, 0)
    lite = models.build({"builder": "efficientnet", "input_size": 32, "lite": True},
                        (32, 32, 1), 10, 0)

    def kinds(model):
        return {type(layer).__name__ for layer in model.layers}

    assert "Multiply" in kinds(full) and "Multiply" not in kinds(lite)
    assert any(isinstance(layer, tf.keras.layers.ReLU) for layer in lite.layers)
    assert not any(getattr(layer, "activation", None) is tf.keras.activations.swish
                   for layer in lite.layers)


def test_compound_scaling_grows_depth_width_and_cost():
    base = {"builder": "efficientnet", "input_size": 32}
    small = models.build(base, (32, 32, 1), 10, 0)
    scaled_spec = resolve_model(base, {"phi": 2, "dims": ["depth", "width", "resolution"]})
    size = scaled_spec["input_size"]
    scaled = models.build(scaled_spec, (size, size, 1), 10, 0)
    assert len(scaled.layers) > len(small.layers)  # deeper: more MBConv repeats
    assert scaled.count_params() > small.count_params()  # wider
    assert models.count_macs(scaled) > 2 * models.count_macs(small)  # α·β²·γ² ≈ 2 per phi


def test_distillation_loss_combines_hard_and_soft_terms():
    tf = import_tf()
    labels = np.array([[0.0], [1.0]], dtype=np.float32)
    teacher = np.array([[2.0, 0.0], [0.0, 2.0]], dtype=np.float32)
    packed = np.concatenate([labels, teacher], axis=1)
    student = tf.constant([[1.0, 0.0], [0.0, 1.0]])
    loss = train.distillation_loss(tf, alpha=0.3, temperature=2.0)(packed, student).numpy()
    hard = tf.keras.losses.sparse_categorical_crossentropy([0, 1], student,
                                                           from_logits=True).numpy()
    soft = tf.keras.losses.kl_divergence(tf.nn.softmax(teacher / 2.0),
                                         tf.nn.softmax(student / 2.0)).numpy() * 4.0
    np.testing.assert_allclose(loss, 0.3 * hard + 0.7 * soft, rtol=1e-5)
    same = train.distillation_loss(tf, alpha=0.0, temperature=2.0)(packed, tf.constant(teacher))
    np.testing.assert_allclose(same.numpy(), 0.0, atol=1e-6)  # student = teacher: no soft loss


def test_each_depth_step_adds_blocks():
    base = {"builder": "efficientnet", "input_size": 32}
    counts = []
    for phi in (0, 1, 2):
        spec = resolve_model(base, {"phi": phi, "dims": ["depth"]}) if phi else base
        model = models.build(spec, (32, 32, 1), 10, 0)
        counts.append(sum(type(layer).__name__ == "DepthwiseConv2D" for layer in model.layers))
    assert counts[0] < counts[1] < counts[2]
