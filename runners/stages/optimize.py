"""`optimize`: TFMOT pruning (constant target sparsity) or weight clustering (k-means++,
optionally sparsity-preserving), fine-tuned, then stripped so the next step sees plain layers."""

from __future__ import annotations

import numpy as np

from tpulens.runners.stages import StepResult
from tpulens.runners.stages import keras_utils as ku
from tpulens.runners.tfsetup import import_tf

FINETUNE_LEARNING_RATE = 1e-4


def run(config: dict, inputs: dict, out_dir, ctx) -> StepResult:
    tf = import_tf()
    import tensorflow_model_optimization as tfmot

    step = config["step"]
    data = ku.data(config, config["input_size"])
    base = ku.load(inputs["model"]["outputs"]["model"])
    ku.seed_finetuning()
    steps_per_epoch = int(np.ceil(len(data.x_train) / config["batch_size"]))
    callbacks = []
    if step["method"] == "prune":
        schedule = tfmot.sparsity.keras.ConstantSparsity(
            step["target_sparsity"], begin_step=0, frequency=max(1, steps_per_epoch // 4))
        model = tfmot.sparsity.keras.prune_low_magnitude(base, pruning_schedule=schedule)
        callbacks = [tfmot.sparsity.keras.UpdatePruningStep()]
        strip = tfmot.sparsity.keras.strip_pruning
    else:
        clone = tf.keras.models.clone_model(base)  # cluster_weights mutates its argument
        clone.set_weights(base.get_weights())
        model = tfmot.clustering.keras.cluster_weights(
            clone, number_of_clusters=step["clusters"],
            cluster_centroids_init=tfmot.clustering.keras.CentroidInitialization.KMEANS_PLUS_PLUS,
            preserve_sparsity=step.get("preserve_sparsity", False))
        strip = tfmot.clustering.keras.strip_clustering
    ku.compile_classifier(model, FINETUNE_LEARNING_RATE)
    ku.fit(model, data.x_train, data.y_train, config["epochs"], config["batch_size"], callbacks)
    stripped = strip(model)
    ku.recalibrate_batchnorm(stripped, data.x_train)
    path = ku.save(stripped, out_dir)
    return StepResult(outputs={"model": str(path)},
                      metrics={"accuracy_keras": ku.accuracy(stripped, data.x_test, data.y_test)})
