"""The stand-in MCP Apps host of the browser tests (host.html, host.js, harness.py)."""
