"""Easel: an MCP image studio for LLM agents."""

__version__ = "0.1.0"
