"""Pydantic models of what crosses the MCP boundary and what is written beside each image."""
