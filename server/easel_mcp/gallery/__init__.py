"""Easel's browser gallery: a local web page over the workspace images, their lineage and the spend."""
