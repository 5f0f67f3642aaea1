"""MCP tools: one module per tool family; thin (validate, call the studio, shape the result)."""
