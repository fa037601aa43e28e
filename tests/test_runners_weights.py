"""Weight statistics read from .tflite buffers (sparsity, unique values per channel)."""

from __future__ import annotations

import numpy as np
from tflite_builder import Op, T, build

from tpulens.runners.tflite_weights import weight_stats, weight_tensors


def conv_model(tmp_path, kernel: np.ndarray, zero_point: int = 0):
    """One CONV_2D with an int8 kernel (out, h, w, in) and a DEPTHWISE_CONV_2D after it."""
    depthwise = np.array([[[[3, 0, 3, 0]]]], dtype=np.int8)  # (1, 1, 1, 4): channels last
    tensors = [
        T("in", (1, 4, 4, 1), "INT8"),
        T("k", kernel.shape, "INT8", kernel.astype(np.int8).tobytes(), zero_point=zero_point),
        T("b", (kernel.shape[0],), "INT32", np.zeros(kernel.shape[0], np.int32).tobytes()),
        T("mid", (1, 4, 4, kernel.shape[0]), "INT8"),
        T("dk", depthwise.shape, "INT8", depthwise.tobytes()),
        T("db", (4,), "INT32", np.zeros(4, np.int32).tobytes()),
        T("out", (1, 4, 4, 4), "INT8"),
    ]
    ops = [Op("CONV_2D", ["in", "k", "b"], ["mid"], options_type="Conv2DOptions",
              options={"Padding": 0, "StrideW": 1, "StrideH": 1}),
           Op("DEPTHWISE_CONV_2D", ["mid", "dk", "db"], ["out"],
              options_type="DepthwiseConv2DOptions",
              options={"Padding": 0, "StrideW": 1, "StrideH": 1, "DepthMultiplier": 1})]
    path = tmp_path / "m.tflite"
    path.write_bytes(build(tensors, ops, inputs=["in"], outputs=["out"]))
    return path


def test_sparsity_and_unique_values_per_channel(tmp_path):
    kernel = np.zeros((4, 3, 3, 1), dtype=np.int8)
    kernel[0] = 5                      # 1 unique value
    kernel[1].flat[:] = np.arange(9)   # 9 unique values, one zero
    kernel[2].flat[::2] = 7            # 2 unique values (0 and 7)
    path = conv_model(tmp_path, kernel)
    tensors = weight_tensors(path)
    assert [name for name, _ in tensors] == ["CONV_2D", "DEPTHWISE_CONV_2D"]
    assert tensors[1][1].shape == (4, 1, 1, 1)  # depthwise channels moved first
    stats = weight_stats(path)
    zeros = int(np.count_nonzero(kernel == 0)) + 2
    assert stats.weights == 36 + 4 and stats.sparsity == zeros / 40
    assert stats.unique_per_channel_max == 9
    assert stats.unique_per_channel_mean == np.mean([1, 9, 2, 1, 1, 1, 1, 1])


def test_zero_point_counts_as_zero(tmp_path):
    kernel = np.full((4, 3, 3, 1), 3, dtype=np.int8)
    stats = weight_stats(conv_model(tmp_path, kernel, zero_point=3))
    assert stats.sparsity == (36 + 2) / 40
