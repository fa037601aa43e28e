"""Run any TFLite detector that ends in `TFLite_Detection_PostProcess` (ours, or one exported
by TFLite Model Maker / the TF Object Detection API) with LiteRT, and time it.

Outputs are found through the custom op itself (outputs 0..3 = boxes, classes, scores, count),
not by tensor name or order, which differ between exporters and TensorFlow versions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tpulens.errors import InputError
from tpulens.runners.detection.export import POSTPROCESS_OP


def postprocess_outputs(model_bytes: bytes) -> list[int] | None:
    """Tensor indices of the post-processing op's outputs in subgraph 0, or None if absent."""
    import tflite

    model = tflite.Model.GetRootAsModel(model_bytes, 0)
    codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
    graph = model.Subgraphs(0)
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = codes[op.OpcodeIndex()]
        opcode = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if opcode == tflite.BuiltinOperator.CUSTOM and code.CustomCode() == POSTPROCESS_OP.encode():
            return [int(op.Outputs(j)) for j in range(op.OutputsLength())]
    return None


def check_detector(path: Path) -> list[int]:
    """The post-processing op's 4 output tensors (boxes, classes, scores, count); InputError
    when `path` is not a TFLite detector ending in that op."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: TFLite model not found")
    try:
        outputs = postprocess_outputs(path.read_bytes())
    except Exception as error:  # the flatbuffer reader raises assorted errors on garbage
        raise InputError(f"{path}: not a TFLite flatbuffer ({error})") from error
    if outputs is None or len(outputs) != 4:
        raise InputError(f"{path}: no {POSTPROCESS_OP} op with 4 outputs "
                         "(boxes, classes, scores, count); cannot evaluate it as a detector")
    return outputs


@dataclass
class Detections:
    boxes: np.ndarray  # [D, 4] normalized ymin, xmin, ymax, xmax
    classes: np.ndarray  # [D] class indices
    scores: np.ndarray  # [D]


class TFLiteDetector:
    """A LiteRT interpreter around a post-processed detector; images are uint8 RGB of any size
    (resized to the model input) and float-input models get pixels scaled to `float_range`."""

    def __init__(self, path: Path, num_threads: int = 1, float_range=(0.0, 255.0)):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        self.outputs = check_detector(self.path)
        self.interpreter = Interpreter(model_content=self.path.read_bytes(),
                                       num_threads=num_threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.height, self.width = (int(v) for v in self.input["shape"][1:3])
        self.float_range = float_range

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """uint8 RGB image -> the model's input tensor."""
        from PIL import Image

        if image.shape[:2] != (self.height, self.width):
            image = np.asarray(Image.fromarray(image).resize((self.width, self.height)))
        dtype = self.input["dtype"]
        if dtype == np.uint8:
            return image[None]
        if dtype == np.int8:
            return (image.astype(np.int16) - 128).astype(np.int8)[None]
        low, high = self.float_range
        return (low + image.astype(np.float32) * (high - low) / 255.0)[None]

    def invoke(self, tensor: np.ndarray) -> None:
        self.interpreter.set_tensor(self.input["index"], tensor)
        self.interpreter.invoke()

    def detect(self, image: np.ndarray) -> Detections:
        self.invoke(self.prepare(image))
        boxes, classes, scores, count = (self.interpreter.get_tensor(i) for i in self.outputs)
        count = int(np.asarray(count).reshape(-1)[0])
        return Detections(
            boxes[0, :count].astype(np.float32),
            classes[0, :count].astype(np.int64),
            scores[0, :count].astype(np.float32),
        )

    def latency_ms(self, image: np.ndarray, runs: int = 30, warmup: int = 3) -> list[float]:
        """Wall-clock milliseconds of `runs` invocations on one prepared image."""
        tensor = self.prepare(image)
        for _ in range(warmup):
            self.invoke(tensor)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            self.invoke(tensor)
            times.append((time.perf_counter() - start) * 1000)
        return times
