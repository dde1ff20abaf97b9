"""The spec's `training` section as Pydantic models.

Pure Pydantic (no TensorFlow), so validating a spec with a `training` section
stays as light as validating one without. The Keras objects these describe are
made in ``training/recipe.py``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BeforeValidator, Discriminator, Field, Tag, model_validator

from ..kinds.base import NonNegInt, PosInt, PositiveNumbers, Strict, ValueNotes

OptimizerName = Literal["sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "lion"]
"""Keras optimizers a spec may name."""
OPTIMIZERS: tuple[str, ...] = get_args(OptimizerName)

# Which optimizer-specific settings apply to which optimizer (the common ones apply to all).
OPTIMIZER_SETTINGS: dict[str, tuple[str, ...]] = {
    "momentum": ("sgd", "rmsprop"),
    "nesterov": ("sgd",),
    "beta_1": ("adam", "adamw", "adamax", "nadam", "lion"),
    "beta_2": ("adam", "adamw", "adamax", "nadam", "lion"),
    "amsgrad": ("adam", "adamw"),
    "rho": ("rmsprop", "adadelta"),
}

LossName = Literal["categorical_crossentropy", "sum_squared_error"]
LOSSES: tuple[str, ...] = get_args(LossName)
MetricName = Literal["accuracy", "top5_accuracy", "crossentropy", "sum_squared_error"]
METRICS: tuple[str, ...] = get_args(MetricName)

TaskName = Literal["classification", "multilabel", "regression", "segmentation"]
"""What an output predicts; each has a line in TASK_NOTES and its losses in TASK_LOSSES."""
TASK_LOSSES: dict[str, tuple[str, ...]] = {
    "classification": LOSSES,
    "multilabel": ("binary_crossentropy",),
    "regression": ("mse", "mae", "huber"),
    "segmentation": ("crossentropy", "dice"),
}
"""The losses each task of an output may train with (the first is its default; segmentation may sum both)."""
TASK_NOTES: dict[str, str] = {
    "classification": "one class per example: softmax (or logits) over the classes, categorical cross-entropy, "
    "accuracy",
    "multilabel": "any number of labels per example: a sigmoid (or logit) per label, binary cross-entropy, per-label "
    "accuracy",
    "regression": "numbers: MSE, MAE or Huber on targets standardised by `scale`; errors reported in the targets' own "
    "units",
    "segmentation": "a class per pixel: softmax over the channels (sigmoid for one), cross-entropy and/or Dice, mean "
    "IoU, pixel accuracy",
}


class Optimizer(Strict):
    """Optimizer: `optimizer: sgd`, or `optimizer: {name: sgd, momentum: 0.9, nesterov: true}`."""

    name: OptimizerName = Field("adam", description="Keras optimizer: " + ", ".join(OPTIMIZERS) + ".")
    momentum: float | None = Field(None, ge=0, lt=1, description="Momentum (sgd, rmsprop).")
    nesterov: bool | None = Field(None, description="Nesterov momentum (sgd).")
    beta_1: float | None = Field(
        None, ge=0, lt=1, description="Decay of the first-moment estimate (adam family, lion)."
    )
    beta_2: float | None = Field(
        None, ge=0, lt=1, description="Decay of the second-moment estimate (adam family, lion)."
    )
    amsgrad: bool | None = Field(None, description="AMSGrad variant (adam, adamw).")
    rho: float | None = Field(
        None, ge=0, lt=1, description="Discounting factor of the gradient history (rmsprop, adadelta)."
    )
    epsilon: float | None = Field(None, gt=0, description="Small constant for numerical stability.")
    weight_decay: float | None = Field(
        None,
        ge=0,
        description="Decoupled weight decay applied by the optimizer each step (AdamW style), unlike the L2 "
        "`training.weight_decay`.",
    )
    clipnorm: float | None = Field(None, gt=0, description="Clip each gradient to this norm.")
    global_clipnorm: float | None = Field(None, gt=0, description="Clip all gradients together to this global norm.")

    @model_validator(mode="before")
    @classmethod
    def _short(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _settings_apply(self) -> Optimizer:
        for key, names in OPTIMIZER_SETTINGS.items():
            if getattr(self, key) is not None and self.name not in names:
                raise ValueError(f"{key} does not apply to {self.name}; it is a setting of {', '.join(names)}")
        if self.clipnorm is not None and self.global_clipnorm is not None:
            raise ValueError("give clipnorm or global_clipnorm, not both")
        return self

    def settings(self) -> dict[str, Any]:
        """Keyword arguments for the Keras optimizer (the ones given)."""
        return {k: v for k, v in self.model_dump().items() if k != "name" and v is not None}


SCHEDULE_SETTINGS: dict[str, tuple[str, ...]] = {
    "every": ("step",),
    "patience": ("reduce_on_plateau",),
    "monitor": ("reduce_on_plateau",),
    "peak_at": ("one_cycle",),
    "anneal": ("one_cycle",),
}
"""Which schedule-specific settings apply to which kind (a setting left at its default is not checked)."""


class Schedule(Strict):
    """Learning-rate schedule: `schedule: cosine`, or `{kind: step, every: 30, factor: 0.1, warmup: 2}`."""

    kind: Literal["constant", "step", "cosine", "one_cycle", "reduce_on_plateau"] = Field(
        "constant",
        description="constant, step (multiply by `factor` every `every` epochs), cosine (decay to `min_learning_rate` "
        "by the last epoch), "
        "one_cycle (rise from learning_rate/25 to learning_rate over the first `peak_at` of the steps, then anneal to "
        "`min_learning_rate`), or reduce_on_plateau (multiply by `factor` when `monitor` has not improved for "
        "`patience` epochs).",
    )
    every: PosInt | None = Field(None, description="Epochs between steps (step schedule; required there).")
    factor: float = Field(0.1, gt=0, le=1, description="Multiplier applied at each step (step, reduce_on_plateau).")
    warmup: NonNegInt = Field(
        0,
        description="Epochs of linear warmup from 0 to the learning rate, before the schedule starts (constant, step, "
        "cosine).",
    )
    min_learning_rate: float = Field(
        0.0, ge=0, description="Learning rate the cosine and one_cycle schedules end at, and reduce_on_plateau's floor."
    )
    patience: PosInt = Field(
        3, description="reduce_on_plateau: epochs without improvement before the learning rate is reduced."
    )
    monitor: str = Field(
        "auto",
        pattern=r"^(auto|(val_)?[a-z0-9_]+)$",
        description="reduce_on_plateau: the quantity watched (val_loss, loss, val_accuracy, ...); `auto` is val_loss "
        "with validation data, else loss.",
    )
    peak_at: float = Field(
        0.3, gt=0, lt=1, description="one_cycle: the fraction of all steps at which the learning rate peaks."
    )
    anneal: Literal["cosine", "linear"] = Field(
        "cosine", description="one_cycle: how the learning rate falls after the peak."
    )

    @model_validator(mode="before")
    @classmethod
    def _short(cls, data: Any) -> Any:
        return {"kind": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _consistent(self) -> Schedule:
        if self.kind == "step" and self.every is None:
            raise ValueError("a step schedule needs `every` (epochs between steps)")
        defaults = type(self).model_fields
        for key, kinds in SCHEDULE_SETTINGS.items():
            if self.kind not in kinds and getattr(self, key) != defaults[key].default:
                raise ValueError(f"`{key}` applies to the {' and '.join(kinds)} schedule, not {self.kind}")
        if self.warmup and self.kind in ("one_cycle", "reduce_on_plateau"):
            raise ValueError(
                f"`warmup` does not apply to {self.kind}"
                + (" (it rises to its peak by itself: set peak_at)" if self.kind == "one_cycle" else "")
            )
        return self


LoggerName = Literal["csv", "tensorboard", "mlflow"]
"""Where `training.log` sends the epochs (``training/loggers.py``)."""


class EarlyStopping(Strict):
    """Stop when `monitor` has not improved for `patience` epochs: `early_stopping: 3` or a mapping."""

    patience: PosInt = Field(5, description="Epochs without improvement before training stops.")
    monitor: str = Field(
        "auto",
        pattern=r"^(auto|(val_)?[a-z0-9_]+)$",
        description="Quantity watched: val_loss, val_accuracy, loss, ...; `auto` is val_loss with validation data, "
        "else loss. Also picks best.keras.",
    )
    mode: Literal["auto", "min", "max"] = Field(
        "auto", description="Whether lower (min) or higher (max) is better; auto: max for accuracies, min otherwise."
    )
    min_delta: float = Field(0.0, ge=0, description="Smallest change that counts as an improvement.")
    restore_best: bool = Field(
        False, description="The final model.keras gets the best epoch's weights instead of the last's."
    )

    @model_validator(mode="before")
    @classmethod
    def _short(cls, data: Any) -> Any:
        return {"patience": data} if isinstance(data, int) and not isinstance(data, bool) else data


class RandomCrop(Strict):
    """Random resized crop: a box of a random share of the image's area and a random aspect ratio, resized to the
    input's size (`crop: 0.5` keeps between 50 % and all of the area)."""

    scale: tuple[float, float] = Field(
        (0.08, 1.0), description="Smallest and largest share of the image's area the box covers, each in (0, 1]."
    )
    ratio: tuple[float, float] = Field(
        (0.75, 4 / 3), description="Smallest and largest aspect ratio (width / height) of the box, each above zero."
    )

    @model_validator(mode="before")
    @classmethod
    def _lowest(cls, data: Any) -> Any:
        return {"scale": (data, 1.0)} if isinstance(data, (int, float)) and not isinstance(data, bool) else data

    @model_validator(mode="after")
    def _ranges(self) -> RandomCrop:
        lo, hi = self.scale
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"scale must be two shares of the area with 0 < smallest <= largest <= 1, got {lo}, {hi}")
        lo, hi = self.ratio
        if not 0 < lo <= hi:
            raise ValueError(f"ratio must be two aspect ratios with 0 < smallest <= largest, got {lo}, {hi}")
        return self


class RandAugment(Strict):
    """Keras' RandAugment: `ops` operations drawn per image from its list (rotation, shear, colour, ...), of strength
    `magnitude` (`randaugment: 2` is two operations at 0.5)."""

    ops: PosInt = Field(2, le=10, description="Operations applied to each image, one after the other.")
    magnitude: float = Field(0.5, gt=0, le=1, description="Strength of every operation, 0 (none) to 1 (strongest).")

    @model_validator(mode="before")
    @classmethod
    def _count(cls, data: Any) -> Any:
        return {"ops": data} if isinstance(data, int) and not isinstance(data, bool) else data


class RandomErase(Strict):
    """Keras' RandomErasing: a random rectangle of the image set to black (`erase: 0.25` erases a quarter of the
    images)."""

    probability: float = Field(0.25, gt=0, le=1, description="Share of the images that get a rectangle erased.")
    scale: tuple[float, float] = Field(
        (0.02, 0.33), description="Smallest and largest share of the image's area erased, each in (0, 1]."
    )

    @model_validator(mode="before")
    @classmethod
    def _share(cls, data: Any) -> Any:
        return {"probability": data} if isinstance(data, (int, float)) and not isinstance(data, bool) else data

    @model_validator(mode="after")
    def _range(self) -> RandomErase:
        lo, hi = self.scale
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"scale must be two shares of the area with 0 < smallest <= largest <= 1, got {lo}, {hi}")
        return self


class Augment(Strict):
    """Random augmentation of training images (never of validation or test data, never in the preprocessing plan
    that `predict`, `evaluate` and export apply). flip and translate are archspec's own fast path; the others are
    Keras' preprocessing layers (``training/data/augmentation.py``), applied in this order after them: crop, zoom,
    rotate, colour (brightness, contrast, saturation, hue), randaugment, erase, then mixup or cutmix on the batch."""

    flip: Literal["none", "horizontal", "vertical", "both"] = Field(
        "none", description="Random mirror images: horizontal (left-right), vertical, or both."
    )
    translate: float = Field(
        0,
        ge=0,
        lt=64,
        description="Random shift of up to this many pixels (>= 1) or this fraction of the size (< 1), zeros filled "
        "in.",
    )
    crop: RandomCrop | None = Field(
        None, description="Random resized crop: `{scale: [0.08, 1], ratio: [0.75, 1.333]}`, or the smallest scale."
    )
    zoom: float = Field(0, ge=0, lt=1, description="Random zoom in or out by up to this fraction (Keras RandomZoom).")
    rotate: float = Field(
        0, ge=0, le=180, description="Random rotation by up to this many degrees either way (Keras RandomRotation)."
    )
    brightness: float = Field(
        0, ge=0, le=1, description="Random brightness change of up to this share of the pixel range (Keras layers)."
    )
    contrast: float = Field(0, ge=0, le=1, description="Random contrast factor in [1 - c, 1 + c] (Keras layers).")
    saturation: float = Field(
        0, ge=0, le=1, description="Random saturation change (colour images only; Keras RandomColorJitter)."
    )
    hue: float = Field(0, ge=0, le=1, description="Random hue shift (colour images only; Keras RandomColorJitter).")
    randaugment: RandAugment | None = Field(
        None, description="Keras' RandAugment: `{ops: 2, magnitude: 0.5}`, or the number of operations."
    )
    erase: RandomErase | None = Field(
        None, description="Keras' RandomErasing: `{probability: 0.25, scale: [0.02, 0.33]}`, or the probability."
    )
    mixup: float = Field(
        0, ge=0, le=10, description="MixUp's alpha (Keras MixUp): images and labels mixed in pairs; 0 is off."
    )
    cutmix: float = Field(
        0,
        ge=0,
        le=10,
        description="CutMix's alpha (Keras CutMix): a box pasted from another image, labels mixed by its area; "
        "0 is off. With mixup too, each batch gets one of the two.",
    )

    def keras_steps(self) -> tuple[str, ...]:
        """The fields set beyond the fast flip/translate path (Keras' layers do them), in the order they run."""
        return tuple(name for name in KERAS_STEPS if getattr(self, name))


KERAS_STEPS = (
    "crop",
    "zoom",
    "rotate",
    "brightness",
    "contrast",
    "saturation",
    "hue",
    "randaugment",
    "erase",
    "mixup",
    "cutmix",
)
"""`Augment`'s fields done by Keras' preprocessing layers (``training/data/augmentation.py``), in their order."""


class Data(Strict):
    """How images become network input: scaling, size, channels, augmentation."""

    rescale: float | Literal["auto"] = Field(
        "auto", description="Multiply pixels by this; `auto` is 1/255 for 8-bit images and 1 otherwise."
    )
    mean: float | list[float] | None = Field(
        None, description="Subtracted after rescaling: one value or one per channel."
    )
    std: PositiveNumbers | None = Field(
        None, description="Divided by after subtracting the mean: one value or one per channel, each above zero."
    )
    fit: Literal["auto", "pad", "resize", "crop", "none"] = Field(
        "auto",
        description="How images reach the input's height and width: pad (centred zeros, 28x28 -> 32x32), resize, crop "
        "(centre), none (must match); auto pads smaller images and resizes others.",
    )
    channels: Literal["convert", "strict"] = Field(
        "convert",
        description="convert: gray -> rgb repeats the channel, rgb -> gray takes the luminance, alpha is dropped; "
        "strict: a different channel count is an error.",
    )
    augment: Augment = Field(default_factory=Augment, description="Random augmentation of training images.")


class EMA(Strict):
    """Exponential moving average of the weights: `ema: {decay: 0.999}` (or `ema: 0.999`).

    Keras' optimizer keeps the average (``use_ema``); validation at each epoch's end, the checkpoints and model.keras
    use the averaged weights, while training goes on from the raw ones (``training/ema.py``)."""

    decay: float = Field(
        0.999,
        gt=0,
        lt=1,
        description="Weight of the previous average at each step: avg = decay * avg + (1 - decay) * weights.",
    )

    @model_validator(mode="before")
    @classmethod
    def _short(cls, data: Any) -> Any:
        return {"decay": data} if isinstance(data, (int, float)) and not isinstance(data, bool) else data


ClassWeight = Annotated[
    Annotated[Literal["balanced"], Tag("name")]
    | Annotated[dict[str | int, Annotated[float, Field(gt=0)]], Tag("mapping")],
    Discriminator(lambda v: "mapping" if isinstance(v, dict) else "name"),
]
"""`balanced` or {class: weight}; the discriminator keeps a bad value to one message (that of the form it has)."""


class PreciseBN(Strict):
    """Batch-norm statistics recomputed at each epoch's end: `precise_bn: false`, `precise_bn: 100` (batches)
    or a mapping.

    Keras' moving averages start at mean 0, variance 1 and forget that start only as momentum^steps: after a short
    run they can still be far from the statistics the final weights give, and a model that scored well in training
    mode predicts badly in inference mode. Recomputing them costs up to `batches` forward passes per epoch
    (``training/precise_bn.py``)."""

    enabled: bool = Field(
        True,
        description="Recompute every training batch normalisation's moving mean and variance from training batches "
        "with the weights of the epoch's end, before validation and before the checkpoint is saved.",
    )
    batches: PosInt = Field(
        100,
        description="Training batches (of batch_size, without augmentation) the statistics are averaged over; "
        "at most one pass over the training data.",
    )

    @model_validator(mode="before")
    @classmethod
    def _short(cls, data: Any) -> Any:
        if isinstance(data, bool):
            return {"enabled": data}
        return {"batches": data} if isinstance(data, int) else data


FreezeList = Annotated[
    list[str], BeforeValidator(lambda v: [v] if isinstance(v, str) else v, json_schema_input_type=str | list[str])
]
"""Node or block names (one name may be given without a list)."""


class Phase(Strict):
    """One stage of a fine-tuning recipe: some epochs with some layers frozen, at a learning rate.

    Unset fields take the training section's value; each phase starts a fresh optimizer."""

    epochs: PosInt = Field(description="Epochs of this phase.")
    learning_rate: float | None = Field(
        None, gt=0, description="Learning rate of this phase (default: training.learning_rate)."
    )
    schedule: Schedule | None = Field(
        None, description="Learning-rate schedule over this phase's epochs (default: training.schedule)."
    )
    freeze: FreezeList | None = Field(
        None,
        description="Frozen in this phase: everything up to and including each named node or block; [] unfreezes all "
        "(default: training.freeze).",
    )
    freeze_bn: bool | None = Field(
        None, description="Freeze every batch normalisation in this phase (default: training.freeze_bn)."
    )


class Scale(Strict):
    """Target scaling of a regression output: the network learns (y - mean) / std."""

    mean: float = Field(description="Subtracted from the targets.")
    std: float = Field(gt=0, description="Divided into the targets after the mean.")


class Head(Strict):
    """How one output of the network trains:
    `heads: {digit: classification, mask: {task: segmentation, loss: [crossentropy, dice]}}`."""

    task: Annotated[TaskName, ValueNotes(notes=TASK_NOTES)] = Field(description="What the output predicts.")
    loss: str | list[str] | None = Field(
        None,
        description="The task's loss (segmentation: crossentropy, dice or both as a list; regression: mse, "
        "mae or huber; classification: categorical_crossentropy or sum_squared_error); default: the first.",
    )
    weight: float = Field(1.0, gt=0, description="Weight of this output's loss in the total the optimizer minimises.")
    scale: Literal["auto", "none"] | Scale = Field(
        "auto",
        description="Regression: `auto` standardises the targets with the training data's "
        "mean and std, `none` leaves them, or give {mean, std}.",
    )
    threshold: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="Multilabel, and segmentation with one channel: the probability above which a label is on.",
    )

    @model_validator(mode="before")
    @classmethod
    def _short(cls, data: Any) -> Any:
        return {"task": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _fits_the_task(self) -> Head:
        allowed = TASK_LOSSES[self.task]
        given = [self.loss] if isinstance(self.loss, str) else self.loss
        for name in given or []:
            if name not in allowed:
                raise ValueError(f"loss {name!r} is not one of the {self.task} losses: {', '.join(allowed)}")
        if given is not None and (
            not given or len(set(given)) != len(given) or (len(given) > 1 and self.task != "segmentation")
        ):
            raise ValueError(
                f"give one loss{' (or crossentropy and dice together)' if self.task == 'segmentation' else ''}"
            )
        if (
            self.scale != "auto" and self.task != "regression"
        ):  # values, not keys: a resolved spec.yaml writes every field
            raise ValueError("`scale` applies to regression outputs")
        if self.threshold != 0.5 and self.task not in ("multilabel", "segmentation"):
            raise ValueError("`threshold` applies to multilabel and segmentation outputs")
        return self

    @property
    def losses(self) -> tuple[str, ...]:
        """The losses in force: those given (one name or several), else the task's default."""
        if isinstance(self.loss, str):
            return (self.loss,)
        return tuple(self.loss) if self.loss else TASK_LOSSES[self.task][:1]


def _default_metrics() -> list[MetricName]:
    return ["accuracy"]


class Training(Strict):
    """How to train the network (used by `archspec train`; every field can be overridden there)."""

    optimizer: Optimizer = Field(
        default_factory=Optimizer,
        description="Optimizer: a name (sgd, adam, adamw, rmsprop, ...) or a mapping with `name` and its settings "
        "(momentum, nesterov, beta_1, beta_2, weight_decay, clipnorm, ...).",
    )
    learning_rate: float = Field(1e-3, gt=0, description="Learning rate (the peak one, reached after any warmup).")
    schedule: Schedule = Field(
        default_factory=Schedule,
        description="Learning-rate schedule: constant, step {every, factor}, cosine; `warmup` epochs for any of them.",
    )
    loss: LossName = Field(
        "categorical_crossentropy",
        description="categorical_crossentropy, or sum_squared_error: the primer's total error sum(1/2 (target - "
        "output)^2) over the classes.",
    )
    metrics: list[MetricName] = Field(
        default_factory=_default_metrics, description="Metrics reported each epoch: " + ", ".join(METRICS) + "."
    )
    batch_size: PosInt = Field(32, description="Examples per step (all replicas together).")
    epochs: PosInt = Field(10, description="Passes over the training data.")
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="Targets become (1 - s) one-hot + s/classes.")
    weight_decay: float = Field(
        0.0,
        ge=0,
        description="L2 penalty: weight_decay/2 * sum(w^2) of every kernel added to the loss (the papers' weight "
        "decay). For decoupled decay use optimizer.weight_decay.",
    )
    early_stopping: EarlyStopping | None = Field(
        None,
        description="Stop when a monitored quantity stops improving: a patience (`early_stopping: 3`) or {patience, "
        "monitor, mode, min_delta, restore_best}.",
    )
    seed: int | None = Field(
        None,
        ge=0,
        lt=2**31,
        description="Random seed: the same seed gives the same run on CPU (weights, shuffling, augmentation).",
    )
    validation_split: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Fraction of the training data held out for validation (the same share of every class, picked by a "
        "shuffle seeded with `seed`); 0 for none.",
    )
    data: Data = Field(
        default_factory=Data,
        description="Preprocessing: rescale, mean/std, fit to the input size, channel conversion, augmentation.",
    )
    freeze: FreezeList = Field(
        default_factory=list,
        description="Fine-tuning: freeze everything up to and including each named node or block (`conv4`); frozen "
        "layers keep the weights they start with.",
    )
    freeze_bn: bool = Field(
        False,
        description="Fine-tuning: freeze every batch normalisation, which then runs in inference mode (its statistics "
        "stay the pretrained ones).",
    )
    phases: list[Phase] = Field(
        default_factory=list,
        description="Fine-tuning in phases, run one after the other (e.g. the head alone, then more layers at a lower "
        "learning rate); `epochs` is their sum.",
    )
    precise_bn: PreciseBN = Field(
        default_factory=PreciseBN,
        description="Batch norm: recompute the moving statistics from training batches "
        "at each epoch's end (`false` keeps Keras' moving averages; a number sets the batches; or {enabled, batches}).",
    )
    ema: EMA | None = Field(
        None,
        description="Exponential moving average of the weights, used for validation and saved as the model: "
        "`ema: {decay: 0.999}`; off by default.",
    )
    class_weight: ClassWeight | None = Field(
        None,
        description="Weight of each class in the loss: `balanced` (n / (classes * count of the class), from the "
        "training labels) "
        "or a mapping {class name or index: weight} (classes left out weigh 1). One classification output only.",
    )
    accumulate: PosInt = Field(
        1,
        description="Gradient accumulation: each update applies the mean gradient of this many batches, for an "
        "effective batch of batch_size * accumulate where memory holds only batch_size (Keras' "
        "gradient_accumulation_steps); 1 for none.",
    )
    log: list[LoggerName] = Field(
        default_factory=list,
        description="Where each epoch is logged besides the run folder: csv (history.csv) and tensorboard "
        "(tensorboard/) are always written there; mlflow logs the recipe, every epoch's figures and the run folder to "
        "MLflow (MLFLOW_TRACKING_URI, else mlflow.db beside the run folder; needs `pip install 'archspec[mlflow]'`).",
    )
    heads: dict[str, Head] = Field(
        default_factory=dict,
        description="How each output trains, by output name (one unnamed output is named after its "
        "layer): classification, multilabel, regression or segmentation, with a loss "
        "and a weight. Default: classification for a vector output, segmentation for a map.",
    )

    @model_validator(mode="before")
    @classmethod
    def _epochs_of_phases(cls, data: Any) -> Any:
        """With phases, `epochs` defaults to the sum of theirs."""
        if isinstance(data, dict) and "epochs" not in data and isinstance(data.get("phases"), list):
            counts = [p.get("epochs") if isinstance(p, dict) else getattr(p, "epochs", None) for p in data["phases"]]
            if counts and all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in counts):
                data = {**data, "epochs": sum(counts)}
        return data

    @model_validator(mode="after")
    def _phases_add_up(self) -> Training:
        total = sum(p.epochs for p in self.phases)
        if self.phases and self.epochs != total:
            raise ValueError(
                f"epochs is {self.epochs} but the phases add up to {total}: leave epochs out, or change a phase"
            )
        return self

    def phase_recipes(self) -> list[Training]:
        """One recipe per phase, the phase's settings filled in from this one (one phase when there are none)."""
        if not self.phases:
            return [self]
        out = []
        for p in self.phases:
            out.append(
                self.model_copy(
                    update={
                        "epochs": p.epochs,
                        "phases": [],
                        "learning_rate": p.learning_rate if p.learning_rate is not None else self.learning_rate,
                        "schedule": p.schedule if p.schedule is not None else self.schedule,
                        "freeze": p.freeze if p.freeze is not None else self.freeze,
                        "freeze_bn": p.freeze_bn if p.freeze_bn is not None else self.freeze_bn,
                    }
                )
            )
        return out

    def freeze_path(self, phase: int = 0) -> tuple[str | int, ...]:
        """Where in the spec the freeze list in force in a phase is written (for error messages)."""
        if self.phases and self.phases[phase].freeze is not None:
            return ("training", "phases", phase, "freeze")
        return ("training", "freeze")
