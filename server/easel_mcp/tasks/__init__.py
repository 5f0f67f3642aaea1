"""MCP Tasks (`io.modelcontextprotocol/tasks`, SEP-2663), served from Easel's job engine.

A client that declares the extension on a `tools/call` of an image tool gets a task handle at once
(`resultType: "task"`) instead of waiting for the model; `tasks/get` polls the engine's job and, when
it is done, carries exactly the result the plain call would have returned. `tasks/cancel` cancels the
job. Clients that do not declare the extension see no change.
"""

from easel_mcp.tasks.extension import EXTENSION_ID, TASKED_TOOLS, build_tasks

__all__ = ["EXTENSION_ID", "TASKED_TOOLS", "build_tasks"]
