"""Import TensorFlow the way every stage needs it: legacy Keras (for tfmot), quiet, and with
a thread budget so parallel workers do not oversubscribe the cores."""

from __future__ import annotations

import os

_THREADS = {"value": None}


def configure(threads: int | None) -> None:
    """Set the environment before TensorFlow is imported (called in each worker process)."""
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    _THREADS["value"] = threads


def threads() -> int:
    """Threads a worker may use (for TF intra-op and the LiteRT interpreter)."""
    return _THREADS["value"] or os.cpu_count() or 1


def import_tf():
    """TensorFlow with tf.keras = tf_keras, thread pools limited to this worker's share."""
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    if not getattr(import_tf, "_configured", False):
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads())
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass  # already initialised by an earlier import in this process
        tf.get_logger().setLevel("ERROR")
        import_tf._configured = True
    return tf
