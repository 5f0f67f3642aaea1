"""The one error type of the pixel layer: a branch of Easel's error tree (`easel_mcp.errors`)."""

from __future__ import annotations

from easel_mcp.errors import EaselError


class ImagingError(EaselError, ValueError):
    """An image, mask or geometry request that cannot be honoured.

    The message is written for the agent: it names what is wrong with concrete numbers and what to
    change (for example "supply a mask of 1024x768"). Still a ValueError, as it was before it joined
    the tree, so pydantic validators that raise it keep reporting it as a validation error.
    """
