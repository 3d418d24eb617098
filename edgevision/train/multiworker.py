"""[TF] The epoch loop for MultiWorkerMirroredStrategy, where Keras 3's ``fit`` cannot go.

Keras 3 ``fit`` fails under MultiWorkerMirroredStrategy (it reduces a data batch across
workers eagerly to build the model: keras-team/keras#20585), so multi-worker epochs run
this small loop on public tf.distribute API instead. Every worker streams its own shard
of the training images (``distribute_datasets_from_function``), repeated so that all
workers take exactly the same number of steps (unequal steps would hang the gradient
all-reduce). Validation runs on the full validation split on every worker; the figures are then
averaged across workers (batch-norm statistics are per worker, so they differ in the
last digits), and every worker takes the same early-stopping decision.
"""

from __future__ import annotations

from typing import Any

from edgevision.data.loader import Stream


class MultiWorkerLoop:
    """One epoch of synchronous data-parallel training, returning Keras-style logs."""

    def __init__(self, model: Any, strategy: Any, make_stream: Any, val: Any, global_batch: int, images: int,
                 class_weight: dict[int, float] | None, num_classes: int) -> None:
        import tensorflow as tf

        self.model, self.strategy, self.val = model, strategy, val
        self.make_stream = make_stream   # (shard, per-replica batch) -> Stream
        self.global_batch, self.images = global_batch, images
        self.steps = max(1, -(-images // global_batch))
        weights = [float((class_weight or {}).get(i, 1.0)) for i in range(num_classes)]
        self.weights = tf.constant(weights, tf.float32)
        self._step: Any = None

        @tf.function
        def all_mean(values: Any) -> Any:
            per_replica = strategy.run(lambda: tf.identity(values))
            return strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica, axis=None)

        self._all_mean = all_mean

    def _build_step(self) -> Any:
        import keras
        import tensorflow as tf

        model, strategy, weights = self.model, self.strategy, self.weights
        loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)
        global_batch = self.global_batch

        def replica_step(x: Any, y: Any) -> tuple[Any, Any, Any]:
            with tf.GradientTape() as tape:
                probs = model(x, training=True)
                per_example = loss_fn(y, probs) * tf.gather(weights, y)
                loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
                if model.losses:
                    loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
            grads = tape.gradient(loss, model.trainable_variables)
            model.optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(probs, axis=1, output_type=tf.int32),
                                                     tf.cast(y, tf.int32)), tf.float32))
            return tf.reduce_sum(per_example), correct, tf.cast(tf.shape(y)[0], tf.float32)

        @tf.function
        def step(iterator: Any) -> list[Any]:
            x, y = next(iterator)
            outs = strategy.run(replica_step, args=(x, y))
            return [strategy.reduce(tf.distribute.ReduceOp.SUM, o, axis=None) for o in outs]

        return step

    def reset(self) -> None:
        """After a recompile (a new stage): new optimizer, new trace."""
        self._step = None

    def fit_epoch(self, epoch: int, progress: Any = None) -> dict[str, float]:
        """Train ``steps`` global batches of this epoch's stream; ``progress`` is a Keras callback."""
        import tensorflow as tf

        if self._step is None:
            with self.strategy.scope():
                self.model.optimizer.build(self.model.trainable_variables)
            self._step = self._build_step()

        def dataset_fn(ctx: tf.distribute.InputContext) -> Any:
            stream: Stream = self.make_stream((ctx.num_input_pipelines, ctx.input_pipeline_id),
                                              ctx.get_per_replica_batch_size(self.global_batch))
            return stream.epoch(epoch).repeat()

        iterator = iter(self.strategy.distribute_datasets_from_function(dataset_fn))
        loss_sum = correct = count = 0.0
        if progress is not None:
            progress.on_train_begin()
            progress.on_epoch_begin(0)
        try:
            for i in range(self.steps):
                s, c, n = (float(v) for v in self._step(iterator))
                loss_sum, correct, count = loss_sum + s, correct + c, count + n
                if progress is not None:
                    progress.on_train_batch_end(i, {"loss": loss_sum / count, "accuracy": correct / count})
            logs = {"loss": loss_sum / max(count, 1.0), "accuracy": correct / max(count, 1.0)}
            logs.update(self.validate())
        finally:
            if progress is not None:
                progress.on_epoch_end(0)
                progress.on_train_end()
        return logs

    def validate(self) -> dict[str, float]:
        import keras
        import numpy as np

        loss_fn = keras.losses.SparseCategoricalCrossentropy()
        losses, correct, count = 0.0, 0.0, 0
        for x, y in self.val:
            probs = self.model(x, training=False)
            n = int(y.shape[0])
            losses += float(loss_fn(y, probs)) * n
            correct += float(np.sum(np.argmax(np.asarray(probs), axis=1) == y.numpy()))
            count += n
        local = np.array([losses / max(count, 1), correct / max(count, 1)], np.float32)
        val_loss, val_acc = (float(v) for v in self._all_mean(local))
        return {"val_loss": val_loss, "val_accuracy": val_acc}
