"""One owner per fact (issue 14): one error tree, one MIME table, one image URI, one size parser."""

from __future__ import annotations

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from easel_mcp.errors import EaselError
from easel_mcp.imaging.errors import ImagingError
from easel_mcp.tools.common import tool_errors


def test_imaging_errors_are_easel_errors_and_become_tool_errors() -> None:
    err = ImagingError("supply a mask of 64x48")
    assert isinstance(err, EaselError) and isinstance(err, ValueError)
    assert str(err) == "supply a mask of 64x48"
    with pytest.raises(ToolError, match="supply a mask of 64x48"), tool_errors():
        raise err
