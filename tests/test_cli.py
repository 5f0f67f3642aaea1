"""The human CLI through the real entry point: results on stdout, progress on stderr, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.openai_images import FakeOpenAIImages, Scripted
from tests.helpers import png


def _run(args: list[str], workspace: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("EASEL_", "OPENAI_"))}
    base.update({"EASEL_WORKSPACE": str(workspace), "EASEL_PROVIDER": "offline", **env})
    return subprocess.run(
        [sys.executable, "-m", "easel_mcp", *args], env=base, capture_output=True, text=True, timeout=120
    )


def test_generate_json_on_stdout_progress_on_stderr(workspace_dir: Path) -> None:
    out = _run(["generate", "a paper boat", "--size", "portrait", "--n", "2", "--json"], workspace_dir)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert [(i["width"], i["height"]) for i in data["images"]] == [(1024, 1536)] * 2
    assert "queued" in out.stderr and "writing" in out.stderr
    assert "note: offline provider" in out.stderr


def test_every_image_command_runs(workspace_dir: Path) -> None:
    (workspace_dir / "p.png").write_bytes(png((800, 600)))
    for args in (
        ["edit", "add a hat", "--images", "p.png"],
        ["inpaint", "p.png", "remove it", "--regions", "10,10,100,80", "--regions", "200,200,50,50,ellipse"],
        ["outpaint", "p.png", "more sea", "--aspect-ratio", "16:9"],
    ):
        out = _run(args, workspace_dir)
        assert out.returncode == 0, (args, out.stderr)
        assert out.stdout.startswith("wrote ") and str(workspace_dir) in out.stdout


def test_estimate(workspace_dir: Path) -> None:
    out = _run(
        [
            "estimate",
            "--operation",
            "generate",
            "--size",
            "landscape",
            "--quality",
            "high",
            "--n",
            "4",
            "--model",
            "gpt-image-1",
        ],
        workspace_dir,
    )
    assert out.returncode == 0 and out.stdout.startswith("about $0.9933 for 4 image(s) of 1536x1024")


@pytest.mark.parametrize(
    ("args", "env", "code", "message"),
    [
        (["generate", "x", "--model", "gpt-image-2", "--size", "1000x1000"], {}, 2, "multiples of 16"),
        (["edit", "x", "--images", "../etc/passwd"], {}, 2, "no file"),
        (["generate", "x", "--n", "99"], {}, 2, "n"),
        (["generate", "x"], {"EASEL_PROVIDER": "openai"}, 4, "OPENAI_API_KEY"),
    ],
)
def test_exit_codes(workspace_dir: Path, args: list[str], env: dict[str, str], code: int, message: str) -> None:
    out = _run(args, workspace_dir, **env)
    assert out.returncode == code, out.stderr
    assert message in out.stderr and out.stdout == ""


def test_budget_and_upstream_exit_codes(workspace_dir: Path) -> None:
    with FakeOpenAIImages() as fake:
        env = {
            "EASEL_PROVIDER": "openai",
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": fake.base_url,
            "EASEL_RETRY_BASE_DELAY_S": "0",
        }
        budget = _run(["generate", "x", "--quality", "high"], workspace_dir, EASEL_MAX_COST_PER_CALL_USD="0.05", **env)
        assert budget.returncode == 3 and "EASEL_MAX_COST_PER_CALL_USD" in budget.stderr
        fake.script.append(Scripted.moderation_blocked())
        blocked = _run(["generate", "x"], workspace_dir, **env)
        assert blocked.returncode == 1 and "safety system" in blocked.stderr
        assert len(fake.requests) == 1


def test_the_readme_demo_runs(tmp_path: Path) -> None:
    out = _run(["demo", "--workspace", str(tmp_path / "demo")], tmp_path)
    assert out.returncode == 0, out.stderr
    for tool in ("estimate_cost", "generate_image", "edit_image", "inpaint", "outpaint", "list_images", "get_image"):
        assert tool in out.stdout
    assert "ERROR" not in out.stdout and len(list((tmp_path / "demo").rglob("*.png"))) >= 5
