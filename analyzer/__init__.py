"""Edge TPU analysis of TFLite models, without TensorFlow and without the compiler."""

from tpulens.analyzer.analyze import analyze_file

__all__ = ["analyze_file"]
