"""Segmentation's training metrics, mean IoU and pixel accuracy, from one confusion matrix per batch.

Keras' pair (MeanIoU, SparseCategoricalAccuracy) takes the argmax of every pixel twice and builds its confusion matrix
with a scatter over every pixel: on a CPU, about 11 ms of specs/unet_digits.yaml's 75 ms step (batches of 16). Here
the pair shares one argmax and one confusion matrix, counted by a segment sum over the pixels' (label, argmax) cells:
about 6 ms, and 15 ms against Keras' 46 at 150 classes. (keras.ops only, so it compiles on any backend, JAX's jit
included, where bincount does not; a product of one-hot rows was as fast at 11 classes but slower than Keras' at 150,
and its memory grew with pixels times classes squared.) The figures are Keras': the IoU mean term for term, the
accuracy to float32 rounding (Keras averages per-image accuracies; here correct pixels over all pixels, the same
quantity).

The matrix has one row more than there are classes: the pixels whose label is out of range. Keras' MeanIoU leaves
them out; its accuracy counts them as wrong, so the accuracy reads them here. Sample weights are per image or per
pixel, counted as whole numbers as in Keras' MeanIoU (it keeps its counts in integers): archspec passes none to a
segmentation output. Registered serializable, so a run's model.keras reloads with its compiled metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keras import backend, initializers, ops

from .bases import Metric, serializable


class PixelConfusion(Metric):
    """The confusion matrix of a class per pixel: rows the labels (the last row: labels out of range), columns the
    argmax of the prediction; counted in Keras' integer type (int64 on TensorFlow) so that no count is rounded.
    `reads`: another metric of the pair whose matrix this one reads instead of keeping its own (it then neither
    updates nor resets anything); not saved, so a reloaded metric keeps its own. `from_logits`: the predictions are
    logits rather than probabilities."""

    def __init__(
        self,
        classes: int,
        from_logits: bool = False,
        name: str | None = None,
        dtype: Any = None,
        reads: PixelConfusion | None = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype or "int")
        self.classes, self.from_logits, self.owner = int(classes), bool(from_logits), reads is None
        if reads is None:
            self.matrix = self.add_variable(
                shape=(self.classes + 1, self.classes),
                initializer=initializers.Zeros(),
                dtype=self.dtype,
                name="confusion_matrix",
            )
        # The matrix reported from, through a function: Keras would take the other metric, held as an attribute, for
        # a part of this one, and count (and save) its matrix twice.
        self.confusion: Callable[[], Any] = (lambda: self.matrix) if reads is None else (lambda: reads.matrix)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        if not self.owner:
            return
        k = self.classes
        truth = ops.cast(y_true, "int32")
        if len(truth.shape) == len(y_pred.shape):  # masks (B, H, W, 1)
            truth = ops.squeeze(truth, axis=-1)
        truth = ops.where(ops.logical_and(truth >= 0, truth < k), truth, k)
        cells = ops.reshape(truth * k + ops.cast(ops.argmax(self._scores(y_pred), axis=-1), "int32"), (-1,))
        counts = (
            ops.ones_like(cells) if sample_weight is None else ops.reshape(self._weights(sample_weight, truth), (-1,))
        )
        per_cell = ops.segment_sum(counts, cells, num_segments=(k + 1) * k)  # a count per (label, argmax), O(pixels)
        self.matrix.assign_add(ops.reshape(ops.cast(per_cell, self.dtype), (k + 1, k)))

    def _scores(self, y_pred: Any) -> Any:
        """What the argmax is taken of. Probabilities are never negative, and floats of one sign are in the order of
        their bits read as integers: their argmax is that of the bits, which spares the work Keras' argmax does for
        -0.0 (only logits can hold it), a third of this metric's time on a CPU."""
        if self.from_logits or backend.standardize_dtype(y_pred.dtype) != "float32":
            return y_pred
        return ops.view(y_pred, "int32")

    def _weights(self, sample_weight: Any, truth: Any) -> Any:
        """One weight per pixel, in whole numbers (as Keras' MeanIoU counts them), from one per image or per pixel."""
        w = ops.cast(ops.cast(sample_weight, self.dtype), "int32")
        if len(w.shape) == len(truth.shape) + 1:  # per pixel, (B, H, W, 1)
            w = ops.squeeze(w, axis=-1)
        elif len(w.shape) == 1:  # per image
            w = ops.reshape(w, (-1,) + (1,) * (len(truth.shape) - 1))
        return ops.broadcast_to(w, ops.shape(truth))

    def reset_state(self) -> None:
        if self.owner:
            self.matrix.assign(ops.zeros(self.matrix.shape, dtype=self.dtype))

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self._dtype, "classes": self.classes, "from_logits": self.from_logits}


@serializable
class PixelMeanIoU(PixelConfusion):
    """The mean over classes of |label ∩ prediction| / |label ∪ prediction|, over the classes present in either:
    Keras' MeanIoU (sparse labels, dense predictions), term for term."""

    def __init__(self, classes: int, from_logits: bool = False, name: str = "mean_iou", **kwargs: Any) -> None:
        super().__init__(classes, from_logits, name=name, **kwargs)
        self._direction = "up"

    def result(self) -> Any:
        matrix = self.confusion()[: self.classes]  # the labels in range
        inter = ops.diagonal(matrix)
        union = ops.cast(ops.sum(matrix, axis=0) + ops.sum(matrix, axis=1) - inter, "float32")
        inter = ops.cast(inter, "float32")
        present = ops.cast(ops.greater(union, 1e-9), "float32")
        iou = ops.where(present, ops.divide(inter, union + backend.epsilon()), 0.0)
        return ops.divide(ops.sum(iou), ops.sum(present) + backend.epsilon())


@serializable
class PixelAccuracy(PixelConfusion):
    """The share of pixels whose argmax is their label (a label out of range is never matched): Keras'
    SparseCategoricalAccuracy over masks."""

    def __init__(self, classes: int, from_logits: bool = False, name: str = "pixel_accuracy", **kwargs: Any) -> None:
        super().__init__(classes, from_logits, name=name, **kwargs)
        self._direction = "up"

    def result(self) -> Any:
        matrix = self.confusion()
        correct = ops.cast(ops.trace(matrix[: self.classes]), "float32")
        return ops.divide_no_nan(correct, ops.cast(ops.sum(matrix), "float32"))


def pixel_metrics(classes: int, from_logits: bool = False) -> list[Any]:
    """Mean IoU and pixel accuracy (Keras' names `mean_iou`, `pixel_accuracy`), the second reading the first's matrix:
    one argmax and one confusion matrix per batch."""
    iou = PixelMeanIoU(classes, from_logits)
    return [iou, PixelAccuracy(classes, from_logits, reads=iou)]
