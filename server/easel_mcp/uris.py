"""The URIs Easel serves images at, built and parsed in one place.

    easel://images/<id>            the image as saved
    easel://images/<id>/display    the image at a size a view can show (`imaging.preview.display_rendition`)

Base layer: imports nothing of easel_mcp.
"""

from __future__ import annotations

from typing import Final, NamedTuple

IMAGE_URI_PREFIX: Final = "easel://images/"
DISPLAY_SUFFIX: Final = "/display"
IMAGE_URI_TEMPLATE: Final = IMAGE_URI_PREFIX + "{image_id}"
DISPLAY_URI_TEMPLATE: Final = IMAGE_URI_TEMPLATE + DISPLAY_SUFFIX


class ImageUri(NamedTuple):
    image_id: str  # as written in the URI: the caller checks it names an image
    display: bool  # the display rendition rather than the image as saved


def image_uri(image_id: str) -> str:
    # formatted, not concatenated: an id read from a damaged sidecar may not be text, and the
    # result model that receives the URI is what rejects it
    return f"{IMAGE_URI_PREFIX}{image_id}"


def display_uri(image_id: str) -> str:
    return f"{IMAGE_URI_PREFIX}{image_id}{DISPLAY_SUFFIX}"


def parse_image_uri(text: str) -> ImageUri | None:
    """'easel://images/<id>[/display]' -> ImageUri; None for any other text."""
    if not text.startswith(IMAGE_URI_PREFIX):
        return None
    rest = text.removeprefix(IMAGE_URI_PREFIX)
    return ImageUri(rest.removesuffix(DISPLAY_SUFFIX), rest.endswith(DISPLAY_SUFFIX))
