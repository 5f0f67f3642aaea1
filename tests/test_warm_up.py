"""An HTTP replica warms up before its port opens: the tools are registered and what the first call imports is
imported, so the first person to call a fresh replica behind the balancer does not wait for it."""

from __future__ import annotations

import sys
from pathlib import Path

from easel_mcp.app import build_server
from easel_mcp.http import WARM_MODULES, warm_up
from easel_mcp.settings import Settings


def test_warm_up_registers_the_tools_and_imports_what_a_call_needs(workspace_dir: Path) -> None:
    server = build_server(Settings(workspace=workspace_dir, provider="offline"))
    warm_up(server)
    assert server._tools_registered
    assert all(name in sys.modules for name in WARM_MODULES)
