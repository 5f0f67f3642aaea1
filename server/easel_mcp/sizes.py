"""Image sizes as one value type: `Size(width, height)`, parsed from "WxH" text in one place.

A `Size` is a NamedTuple, so it compares equal to, unpacks and hashes like the `(width, height)`
tuples the catalog tables are written in. Named sizes ("square", "landscape"...) belong to the
catalog (`SizeRule.named_size`); "auto" is the caller's to decide.

A call's size is parsed once, when its options are validated (`catalog/validate.py`: `Options.dimensions`,
None for auto); everything downstream of that (the estimate, the provider request, the providers, inpaint's
plan, the cheaper options) reads the value. Text is only what crosses a wire or reaches the agent (`.text`).
"""

from __future__ import annotations

from typing import NamedTuple

Dimensions = tuple[int, int]
"""Any (width, height) pair, as catalog tables and Pillow's `.size` hold it; a `Size` is one."""


class Size(NamedTuple):
    width: int
    height: int

    @classmethod
    def parse(cls, text: str) -> Size | None:
        """'1536x1024' (or '1536×1024', any case, spaces around the numbers) -> Size; anything else -> None."""
        parts = text.lower().replace("×", "x").split("x")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            return None
        return cls(int(parts[0]), int(parts[1]))

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def text(self) -> str:
        """'1536x1024': how requests, tables and messages write a size."""
        return format_size(self)


def parse_size(text: str) -> Size | None:
    """'1536x1024' -> Size(1536, 1024); anything else -> None."""
    return Size.parse(text)


def as_size(size: Dimensions | str | None) -> Size | None:
    """A requested size as a value (None for auto): a Size as it is, a (width, height) pair as a Size, and
    "WxH" text parsed. A call never sends text here (its options hold the parsed Size); text comes only from
    outside a call: a provider request or an `estimate` written by hand (tests, scripts)."""
    if size is None or isinstance(size, Size):
        return size
    if isinstance(size, tuple):
        return Size(*size)
    return None if size.strip().lower() == "auto" else Size.parse(size)


def format_size(size: Dimensions) -> str:
    """(1536, 1024) -> '1536x1024'."""
    return f"{size[0]}x{size[1]}"
