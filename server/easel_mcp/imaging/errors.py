"""The one error type of the pixel layer."""

from __future__ import annotations


class ImagingError(ValueError):
    """An image, mask or geometry request that cannot be honoured.

    The message is written for the agent: it names what is wrong with concrete numbers and what to
    change (for example "supply a mask of 1024x768").
    """
