"""Shape arithmetic: every output-size rule in one place, as pure integer functions.

The conventions are Keras' own (and those of Dumoulin & Visin's
convolution-arithmetic guide), so static shapes match built models exactly.
Sizes may come out zero or negative here; callers decide that is an error.
It lives with the kinds because their shape rules are its callers.
"""

from __future__ import annotations

from fractions import Fraction


def effective_kernel(kernel: int, dilation: int = 1) -> int:
    """Span of a dilated kernel.

    >>> effective_kernel(3, 2)
    5
    """
    return dilation * (kernel - 1) + 1


def valid_length(size: int, kernel: int, stride: int, dilation: int = 1) -> int:
    """Output length with no padding: floor((i - d(k-1) - 1)/s) + 1.

    >>> valid_length(32, 5, 1)
    28
    >>> valid_length(5, 7, 1)
    -1
    >>> valid_length(224, 11, 4)
    54
    """
    return (size - effective_kernel(kernel, dilation)) // stride + 1


def same_length(size: int, stride: int) -> int:
    """Output length with 'same' padding: ceil(i/s).

    >>> same_length(7, 2)
    4
    """
    return -(-size // stride)


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """The (before, after) zeros 'same' padding adds; the extra one goes after, as in TensorFlow.

    >>> same_padding(224, 7, 2)
    (2, 3)
    """
    out = same_length(size, stride)
    total = max((out - 1) * stride + effective_kernel(kernel, dilation) - size, 0)
    return total // 2, total - total // 2


def conv_length(size: int, kernel: int, stride: int, padding: str, dilation: int = 1) -> int:
    """Output length of a convolution or pooling window along one axis.

    >>> conv_length(28, 2, 2, "valid")
    14
    >>> conv_length(56, 3, 2, "same")
    28
    """
    if padding == "same":
        return same_length(size, stride)
    return valid_length(size, kernel, stride, dilation)


def transpose_length(size: int, kernel: int, stride: int, padding: str, output_padding: int | None = None) -> int:
    """Output length of a transposed convolution along one axis, by Keras' rule.

    `valid`: (i - 1)s + k + p, where p (output_padding) defaults to max(k, s) - k;
    `same`: i s, or (i - 1)s + (k mod 2) + p when p is given.

    >>> transpose_length(8, 2, 2, "valid")
    16
    >>> transpose_length(7, 3, 2, "valid")
    15
    >>> transpose_length(7, 3, 2, "same")
    14
    >>> transpose_length(7, 4, 2, "same", 1)
    13
    """
    if padding == "same":
        return size * stride if output_padding is None else (size - 1) * stride + kernel % 2 + output_padding
    extra = max(kernel, stride) - kernel if output_padding is None else output_padding
    return (size - 1) * stride + kernel + extra


def dropped_border(size: int, kernel: int, stride: int, dilation: int = 1) -> int:
    """Input pixels a 'valid' window never reaches at the far border.

    >>> dropped_border(224, 11, 4)
    1
    >>> dropped_border(227, 11, 4)
    0
    """
    out = valid_length(size, kernel, stride, dilation)
    if out <= 0:
        return 0
    return size - ((out - 1) * stride + effective_kernel(kernel, dilation))


Length = int | Fraction
"""A receptive field or cumulative stride, in input pixels: a fraction of one after an upsampling."""


def receptive_field(rf: Length, jump: Length, kernel: int, stride: int, dilation: int = 1) -> tuple[Length, Length]:
    """(receptive field, cumulative stride) after a window, from those before it.

    >>> receptive_field(1, 1, 5, 1)
    (5, 1)
    >>> receptive_field(5, 1, 2, 2)
    (6, 2)
    """
    return rf + (effective_kernel(kernel, dilation) - 1) * jump, jump * stride


def upscaled_field(rf: Length, jump: Length, reach: int, factor: Length) -> tuple[Length, Length]:
    """(receptive field, cumulative stride) after a layer that enlarges its input `factor` times,
    each output position reading `reach` neighbouring input positions: the field grows as a
    window of `reach` would, and positions come `factor` times closer (the stride may become a
    fraction of an input pixel; it stays an int while it divides).

    >>> upscaled_field(16, 8, 1, 2)
    (16, 4)
    >>> upscaled_field(1, 1, 2, 2)
    (2, Fraction(1, 2))
    """
    moved = Fraction(jump) / Fraction(factor)
    return rf + (reach - 1) * jump, int(moved) if moved.denominator == 1 else moved
