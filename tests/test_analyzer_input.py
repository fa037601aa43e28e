"""Bad input never crashes or hangs: one line naming the file and the problem, exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tpulens.analyzer.model import model_from_bytes, read_model
from tpulens.cli import main
from tpulens.errors import InputError

SAMPLE = "pairs/edgetpu/deeplabv3_mnv2_dm05_pascal_quant.tflite"


def run_cli(*args: str) -> tuple[int, str]:
    """Run the real console entry point in a subprocess: exit code and stderr."""
    proc = subprocess.run([sys.executable, "-m", "tpulens.cli", *args], capture_output=True,
                          text=True, timeout=60)
    return proc.returncode, proc.stderr


@pytest.fixture(scope="module")
def sample_bytes(corpus) -> bytes:
    return (corpus / SAMPLE).read_bytes()


def bad_files(tmp: Path, sample: bytes) -> dict[str, Path]:
    files = {
        "empty": b"",
        "random bytes": bytes(range(256)) * 40,
        "truncated": sample[: len(sample) // 3],
        "wrong identifier": sample[:4] + b"XXXX" + sample[8:],
        "text": b"this is not a model\n" * 10,
    }
    paths = {}
    for name, data in files.items():
        path = tmp / (name.replace(" ", "_") + ".tflite")
        path.write_bytes(data)
        paths[name] = path
    paths["directory"] = tmp / "no_models"
    paths["directory"].mkdir()
    paths["missing"] = tmp / "missing.tflite"
    return paths


@pytest.mark.parametrize("case", ["empty", "random bytes", "truncated", "wrong identifier",
                                  "text", "directory", "missing"])
def test_bad_file_gives_one_line_and_exit_2(tmp_path, sample_bytes, case):
    path = bad_files(tmp_path, sample_bytes)[case]
    code, err = run_cli("analyze", str(path))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "Traceback" not in err


def test_error_messages_name_the_problem(tmp_path, sample_bytes):
    files = bad_files(tmp_path, sample_bytes)
    expected = {"empty": "empty file", "wrong identifier": "not a TFLite model",
                "truncated": "damaged or truncated", "directory": "is a directory",
                "missing": "no such file"}
    for case, words in expected.items():
        with pytest.raises(InputError, match=words):
            read_model(files[case])


def test_good_model_exit_0_and_json(corpus, capsys):
    assert main(["analyze", str(corpus / SAMPLE), "--json"]) == 0
    assert '"ops_total": 71' in capsys.readouterr().out


def test_analyzer_never_imports_tensorflow():
    code = ("import sys, tpulens.analyzer.analyze, tpulens.analyzer.cli_analyze; "
            "import tpulens.analyzer.reference, tpulens.analyzer.batch, tpulens.analyzer.logs; "
            "import tpulens.analyzer.compiled, tpulens.analyzer.compare; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'tf_keras', 'keras')]; print(bad); sys.exit(bool(bad))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _keras_zip(path: Path) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n")
    return path


@pytest.mark.parametrize("name, data, words", [
    ("model.h5", b"\x89HDF\r\n\x1a\n" + bytes(64), "a Keras HDF5 model"),
    ("weights.bin", b"\x89HDF\r\n\x1a\n" + bytes(64), "a Keras HDF5 model"),
    ("model.keras", None, "a Keras model (.keras)"),
    ("model.onnx", bytes(64), "an ONNX model"),
    ("exported", b"\x08\x07\x12\x07pytorch" + bytes(32), "an ONNX model"),
    ("frozen.pb", b"\x0a\x10" + bytes(32), "a TensorFlow frozen graph (.pb)"),
    ("saved_model.pb", b"\x0a\x10" + bytes(32), "the graph of a TensorFlow SavedModel"),
])
def test_other_formats_are_named_with_their_converter(tmp_path, name, data, words):
    path = tmp_path / name
    if data is None:
        _keras_zip(path)
    else:
        path.write_bytes(data)
    code, err = run_cli("analyze", str(path))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.strip().startswith(f"tpulens analyze: error: {path}: {words}, not a TFLite model")
    assert ("TFLiteConverter" in err or "onnx2tf" in err) and "int8" in err


def test_saved_model_directory_is_named(tmp_path):
    saved = tmp_path / "exported_model"
    (saved / "variables").mkdir(parents=True)
    (saved / "saved_model.pb").write_bytes(b"\x0a\x10" + bytes(32))
    for args in (("analyze", str(saved)), ("compare", str(saved), "--log", str(saved))):
        code, err = run_cli(*args)
        assert code == 2 and len(err.strip().splitlines()) == 1
        assert f'from_saved_model("{saved.as_posix()}")' in err


def _share_first_op_table(data: bytes) -> bytes:
    """The model with its second op entry pointing at the first op's table."""
    import struct

    from tpulens.analyzer.flatbuf import root

    subgraph = next(root(data).tables(8))
    start, count = subgraph._vector(10, 4)
    assert count >= 2
    first = start + struct.unpack_from("<I", data, start)[0]
    out = bytearray(data)
    struct.pack_into("<I", out, start + 4, first - (start + 4))
    return bytes(out)


def test_ops_sharing_one_table_are_damage(sample_bytes):
    """Entries of one vector pointing at one table (a small file standing for millions of
    ops, like the red team's shared_ops_*.tflite) are refused at once."""
    with pytest.raises(InputError, match="operators 0 and 1 share one table"):
        model_from_bytes(_share_first_op_table(sample_bytes), "shared.tflite")


def test_a_tensor_written_by_two_ops_is_damage(sample_bytes):
    import struct

    from tpulens.analyzer.flatbuf import root

    data = bytearray(sample_bytes)
    ops = list(next(root(bytes(data)).tables(8)).tables(10))
    first_out = ops[0].scalars(8, "i")[0]
    start, _ = ops[1]._vector(8, 4)
    struct.pack_into("<i", data, start, first_out)
    with pytest.raises(InputError, match=f"tensor {first_out} is written by operators 0 and 1"):
        model_from_bytes(bytes(data), "twice.tflite")
