"""`train`: fit a seeded Keras classifier, or distil a student from a trained teacher.

Distillation (Hinton et al., the Keras example the study follows): the student minimises
`alpha * CE(labels, student) + (1 - alpha) * T² * KL(softmax(teacher/T) || softmax(student/T))`.
The teacher's logits are computed once and packed next to the labels, so plain `fit` works.
"""

from __future__ import annotations

import numpy as np

from tpulens.runners import models
from tpulens.runners.stages import StepResult
from tpulens.runners.stages import keras_utils as ku
from tpulens.runners.tfsetup import import_tf


def run(config: dict, inputs: dict, out_dir, ctx) -> StepResult:
    tf = import_tf()
    spec = config["model"]
    data = ku.data(config, spec["input_size"])
    shape = data.x_train.shape[1:]
    model = models.build(spec, shape, len(data.class_names), config["seed"])
    if "distill" in config:
        teacher = ku.load(inputs["teacher"]["outputs"]["model"])
        teacher_size = teacher.input_shape[1]
        teacher_x = ku.data(config, teacher_size).x_train
        teacher_logits = teacher.predict(teacher_x, batch_size=256, verbose=0)
        targets = np.concatenate([data.y_train[:, None].astype(np.float32), teacher_logits], 1)
        model.compile(optimizer=tf.keras.optimizers.Adam(config["learning_rate"]),
                      loss=distillation_loss(tf, **config["distill"]),
                      metrics=[packed_accuracy(tf)])
        ku.fit(model, data.x_train, targets, config["epochs"], config["batch_size"])
    else:
        ku.compile_classifier(model, config["learning_rate"])
        ku.fit(model, data.x_train, data.y_train, config["epochs"], config["batch_size"])
    ku.recalibrate_batchnorm(model, data.x_train)
    path = ku.save(model, out_dir)
    return StepResult(
        outputs={"model": str(path)},
        metrics={"accuracy_keras": ku.accuracy(model, data.x_test, data.y_test),
                 "params": int(model.count_params()), "macs": models.count_macs(model)},
        info={"input_shape": list(shape), "classes": len(data.class_names)})


def distillation_loss(tf, alpha: float, temperature: float):
    """Hard loss on labels (column 0) plus soft loss against the teacher's logits."""

    def loss(packed, student_logits):
        labels = tf.cast(packed[:, 0], tf.int32)
        teacher_logits = packed[:, 1:]
        hard = tf.keras.losses.sparse_categorical_crossentropy(labels, student_logits,
                                                               from_logits=True)
        soft_teacher = tf.nn.softmax(teacher_logits / temperature)
        soft_student = tf.nn.softmax(student_logits / temperature)
        soft = tf.keras.losses.kl_divergence(soft_teacher, soft_student) * temperature ** 2
        return alpha * hard + (1.0 - alpha) * soft

    return loss


def packed_accuracy(tf):
    def accuracy(packed, student_logits):
        labels = tf.cast(packed[:, 0], tf.int64)
        return tf.cast(tf.equal(tf.argmax(student_logits, axis=1), labels), tf.float32)

    return accuracy
