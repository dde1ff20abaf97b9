"""Shape arithmetic: every output-size rule in one place, as pure integer functions.

The conventions are Keras' own (and those of Dumoulin & Visin's
convolution-arithmetic guide), so static shapes match built models exactly.
Sizes may come out zero or negative here; callers decide that is an error.
It lives with the kinds because their shape rules are its callers.
"""

from __future__ import annotations


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


def receptive_field(rf: int, jump: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """(receptive field, cumulative stride) after a window, from those before it.

    >>> receptive_field(1, 1, 5, 1)
    (5, 1)
    >>> receptive_field(5, 1, 2, 2)
    (6, 2)
    """
    return rf + (effective_kernel(kernel, dilation) - 1) * jump, jump * stride
