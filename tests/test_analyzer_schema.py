"""analyzer/schema.py must match what tools/gen_schema.py derives from the `tflite` package."""

import contextlib
import importlib.util
import io
from pathlib import Path

from tpulens.analyzer import schema

ROOT = Path(__file__).resolve().parents[1]


def test_schema_tables_match_the_tflite_package():
    spec = importlib.util.spec_from_file_location("gen_schema", ROOT / "tools" / "gen_schema.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        gen.main()
    fresh: dict = {}
    exec(out.getvalue(), fresh)  # noqa: S102 - our own generator's output
    for name in ("BUILTIN_OPERATORS", "TENSOR_TYPES", "ACTIVATIONS", "PADDINGS",
                 "BUILTIN_OPTIONS"):
        assert fresh[name] == getattr(schema, name), name
