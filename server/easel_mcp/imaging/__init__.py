"""Pixel layer: decoding, previews, masks, compositing, outpaint geometry and the offline renderer."""
