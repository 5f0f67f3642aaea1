"""The baseline for start-up: a bare MCPServer with one trivial tool, on the same interpreter."""

from mcp.server.mcpserver import MCPServer

server = MCPServer("bare")


@server.tool()
def ping(text: str) -> str:
    """Echo."""
    return text


if __name__ == "__main__":
    server.run("stdio")
