"""Layer kinds. Importing a module registers its kinds in ``registry.KINDS``.

The kind table fills itself as it is asked: the first lookup of a built-in kind imports the module
that registers it (``BUILTIN`` says which), so checking a ResNet never imports the NASNet cells.
Listing the whole table (the JSON Schema, the reference, the importer, a typo's suggestions)
loads every kind first. ``tests/test_kinds.py`` checks ``BUILTIN`` against what the modules
register, so a kind missing from it fails there rather than at a user's lookup.

Third-party kinds arrive two ways, neither touching archspec's source: a
``register_kind(...)`` call, or an entry point in the ``archspec.kinds`` group
whose target is imported (and, if callable, called) once: the first time a
kind that is not built in is looked up, or the whole table is listed.
"""

from __future__ import annotations

BUILTIN: dict[str, tuple[str, ...]] = {
    "conv": ("conv",),
    "depthwise": ("depthwise", "dwconv", "separable", "sepconv"),
    "upsampling": ("conv_transpose", "deconv", "upconv", "upsample", "resize"),
    "pool": ("pool",),
    "dense": ("dense", "fc"),
    "simple": ("flatten", "dropout", "activation", "act"),
    "shape": ("reshape", "crop"),
    "norm": ("batchnorm", "bn", "layernorm", "ln", "lrn"),
    "scale": ("rescaling", "normalization", "layer_scale", "stochastic_depth", "drop_path"),
    "pad": ("zeropad",),
    "merge": ("add", "multiply", "concat"),
    "blocks": ("use", "stage", "repeat", "residual", "branches", "inception", "dense_block", "transition"),
    "mobile": ("se", "squeeze_excite", "mbconv", "fused_mbconv"),
    "convnext": ("convnext_block",),
    "nasnet": ("nasnet_normal", "nasnet_reduction"),
    "network": ("network",),
}
"""Module of ``archspec.kinds`` -> the kind names (aliases included) importing it registers, in registration
order. This is the table's order: listings, the kind reference and the JSON Schema list kinds in it (so it reads
as a reader meets them: layers with weights, then reshaping, normalisation, joins, blocks), and the importer
prefers the earlier of two kinds that read one Keras class (``dropout`` before ``stochastic_depth``)."""
ENTRY_POINT_GROUP = "archspec.kinds"
