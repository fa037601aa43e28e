"""Name the model formats people hand to tpulens instead of a .tflite, and how to convert them.

Only the first bytes of a file (or the names in a directory) are looked at: enough to tell a
Keras, ONNX or TensorFlow file from damage, so the user gets the converter call, not a
flatbuffer error.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

_QUANTIZE = "then quantize it to int8 for the Edge TPU"


class Format(NamedTuple):
    name: str
    convert: str  # the call that makes a .tflite from it

    def message(self, path: Path) -> str:
        call = self.convert.format(path=path.as_posix())
        return f"{path}: {self.name}, not a TFLite model; convert it with {call}, {_QUANTIZE}"


KERAS_H5 = Format("a Keras HDF5 model",
                  'tf.lite.TFLiteConverter.from_keras_model(keras.models.load_model("{path}"))')
KERAS_V3 = Format("a Keras model (.keras)",
                  'tf.lite.TFLiteConverter.from_keras_model(keras.models.load_model("{path}"))')
ONNX = Format("an ONNX model", "`onnx2tf -i {path} -oiqt` (it writes the .tflite files)")
SAVED_MODEL = Format("a TensorFlow SavedModel directory",
                     'tf.lite.TFLiteConverter.from_saved_model("{path}")')
SAVED_MODEL_PB = Format("the graph of a TensorFlow SavedModel",
                        'tf.lite.TFLiteConverter.from_saved_model() on its directory')
FROZEN_GRAPH = Format("a TensorFlow frozen graph (.pb)",
                      'tf.compat.v1.lite.TFLiteConverter.from_frozen_graph("{path}", '
                      "input_arrays, output_arrays)")

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_ZIP_SIGNATURE = b"PK\x03\x04"
_ONNX_NEXT_FIELDS = {0x12, 0x1A, 0x22, 0x2A, 0x32, 0x3A, 0x42, 0x72}  # ModelProto fields 2…14


def _looks_like_onnx(head: bytes) -> bool:
    """ModelProto starts with ir_version (field 1, a small varint), then another field."""
    return len(head) >= 3 and head[0] == 0x08 and 1 <= head[1] <= 15 \
        and head[2] in _ONNX_NEXT_FIELDS


def _is_keras_zip(path: Path) -> bool:
    import zipfile  # only a file that starts like a zip archive needs it

    try:
        with zipfile.ZipFile(path) as archive:
            return "config.json" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def file_format(path: Path, head: bytes) -> Format | None:
    """The known non-TFLite format of a file from its first bytes and name, if any."""
    suffix = path.suffix.lower()
    if head.startswith(_HDF5_SIGNATURE):
        return KERAS_H5
    if head.startswith(_ZIP_SIGNATURE) and (suffix == ".keras" or _is_keras_zip(path)):
        return KERAS_V3
    if suffix == ".onnx" or _looks_like_onnx(head):
        return ONNX
    if path.name in ("saved_model.pb", "saved_model.pbtxt"):
        return SAVED_MODEL_PB
    if suffix == ".pb":
        return FROZEN_GRAPH
    return None


def directory_format(path: Path) -> Format | None:
    """A SavedModel directory (saved_model.pb inside), else None."""
    if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
        return SAVED_MODEL
    return None
