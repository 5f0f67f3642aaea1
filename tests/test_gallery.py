"""The gallery over HTTP: every route, the token and cookie, Host checks, ids and paths, thumbnails, a real server."""

from __future__ import annotations

import io
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest
from PIL import Image
from starlette.testclient import TestClient

from easel_mcp.gallery.app import build_gallery_app
from easel_mcp.gallery.cli import gallery_url, run_gallery
from easel_mcp.gallery.http_util import cookie_value
from easel_mcp.ledger import Budgets, Ledger
from easel_mcp.workspace import Workspace
from tests.helpers import png
from tests.test_index import T0, make_image

TOKEN = "s3cret-token/with+chars"


def encoded(size: tuple[int, int], fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (30, 90, 160)).save(buf, fmt)
    return buf.getvalue()


@dataclass
class Sample:
    ws: Workspace
    root: str
    child: str
    jpeg: str
    webp: str


@pytest.fixture
def sample(workspace_dir: Path) -> Sample:
    ws = Workspace.open(workspace_dir)
    root, _ = make_image(
        ws.root,
        slug="lighthouse",
        data=png((900, 600)),
        width=900,
        height=600,
        prompt="A lighthouse at dusk",
        cost_usd=0.04,
    )
    child, _ = make_image(
        ws.root,
        slug="lighthouse-moon",
        data=png((900, 600)),
        width=900,
        height=600,
        prompt="Add a moon",
        operation="edit",
        parents=[root],
        created_at=(T0 + timedelta(minutes=1)).isoformat(),
        model="gpt-image-1-mini",
    )
    jpeg, _ = make_image(
        ws.root,
        slug="photo",
        data=encoded((64, 48), "JPEG"),
        ext="jpeg",
        format="jpeg",
        created_at=(T0 + timedelta(minutes=2)).isoformat(),
    )
    webp, _ = make_image(
        ws.root,
        slug="sticker",
        data=encoded((64, 64), "WEBP"),
        ext="webp",
        format="webp",
        created_at=(T0 + timedelta(minutes=3)).isoformat(),
        operation="outpaint",
    )
    return Sample(ws, root, child, jpeg, webp)


def client(ws: Workspace, token: str | None = None) -> TestClient:
    app = build_gallery_app(ws, ws.state_dir / "ledger.sqlite3", token)
    return TestClient(app, base_url="http://127.0.0.1:8123")


def seed_ledger(path: Path, now: datetime | None = None) -> None:
    """Settled attempts on several days (what a month of real calls leaves)."""
    now = now or datetime.now(UTC)
    ledger = Ledger.open(path)
    rows = [
        (0, 0.04, "gpt-image-1.5", "generate"),
        (0, 0.17, "gpt-image-1.5", "edit"),
        (1, 0.25, "gpt-image-1-mini", "generate"),
        (3, 0.08, "gpt-image-1.5", "inpaint"),
        (6, 0.5, "gpt-image-1.5", "generate"),
        (12, 0.21, "gemini-2.5-flash-image", "edit"),
        (20, 0.33, "gpt-image-1.5", "outpaint"),
        (45, 1.0, "gpt-image-1.5", "generate"),
    ]
    for days, cost, model, tool in rows:
        at = now - timedelta(days=days)
        attempt = ledger.begin(
            tool=tool,
            provider="openai",
            model=model,
            params={"prompt": "x"},
            estimated_usd=cost,
            reserve_usd=cost,
            budgets=Budgets(),
            now=at,
        )
        ledger.mark_sent(attempt)
        ledger.settle(attempt, status="ok", cost_usd=cost, usage=None, request_id=None, outputs=["a.png"], now=at)
    ledger.close()


def test_page_static_files_and_security_headers(sample: Sample) -> None:
    with client(sample.ws) as c:
        page = c.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert '<script src="static/gallery.js"' in page.text
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        js = c.get("/static/gallery.js")
        assert js.status_code == 200 and "javascript" in js.headers["content-type"]
        assert c.get("/static/gallery.css").headers["content-type"].startswith("text/css")
        for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py", "/nope"):
            response = c.get(path)
            assert response.status_code == 404, path
            assert response.headers["x-content-type-options"] == "nosniff"


def test_images_list_filters_and_pages(sample: Sample) -> None:
    with client(sample.ws) as c:
        body = c.get("/api/images").json()
        assert [i["id"] for i in body["images"]] == [sample.webp, sample.jpeg, sample.child, sample.root]
        assert body["total"] == 4 and body["next_cursor"] is None
        first = body["images"][2]
        assert first["prompt"] == "Add a moon" and first["parents"] == [sample.root] and first["width"] == 900
        assert [i["id"] for i in c.get("/api/images", params={"q": "MOON"}).json()["images"]] == [sample.child]
        assert [i["id"] for i in c.get("/api/images", params={"model": "gpt-image-1-mini"}).json()["images"]] == [
            sample.child
        ]
        assert [i["id"] for i in c.get("/api/images", params={"tool": "outpaint"}).json()["images"]] == [sample.webp]
        since = (T0 + timedelta(seconds=90)).isoformat()
        assert {i["id"] for i in c.get("/api/images", params={"since": since}).json()["images"]} == {
            sample.webp,
            sample.jpeg,
        }
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
            page = c.get("/api/images", params=params).json()
            seen += [i["id"] for i in page["images"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == [sample.webp, sample.jpeg, sample.child, sample.root]
        assert c.get("/api/images", params={"since": "last tuesday"}).status_code == 400
        assert c.get("/api/images", params={"cursor": "garbage"}).status_code == 400
        assert c.get("/api/images", params={"limit": "many"}).status_code == 400
        # A file added by hand shows up on the next list, without a restart.
        added, _ = make_image(sample.ws.root, day="2026-03-20", created_at=(T0 + timedelta(days=6)).isoformat())
        assert c.get("/api/images", params={"limit": "1"}).json()["images"][0]["id"] == added


def test_image_detail_has_every_sidecar_field_and_the_lineage(sample: Sample) -> None:
    with client(sample.ws) as c:
        body = c.get(f"/api/images/{sample.child}").json()
    assert body["entry"]["id"] == sample.child and body["entry"]["relative_path"].endswith(f"{sample.child}.png")
    assert body["sidecar"]["parameters"] == {"model": "gpt-image-1.5", "size": "3x2"}
    assert body["sidecar"]["prompt"] == "Add a moon" and body["sidecar"]["cost_usd"] == 0.04
    assert {n["id"]: n["level"] for n in body["lineage"]["nodes"]} == {sample.root: -1, sample.child: 0}
    assert body["lineage"]["edges"] == [[sample.root, sample.child]]
    with client(sample.ws) as c:
        assert c.get(f"/api/images/{sample.root}").json()["children"] == [sample.child]


def test_original_files_with_mime_etag_and_cache(sample: Sample) -> None:
    with client(sample.ws) as c:
        for image_id, mime in ((sample.root, "image/png"), (sample.jpeg, "image/jpeg"), (sample.webp, "image/webp")):
            response = c.get(f"/api/images/{image_id}/file")
            assert response.status_code == 200 and response.headers["content-type"] == mime
            path = sample.ws.find_image(image_id)
            assert response.content == path.read_bytes()
            assert "max-age" in response.headers["cache-control"]
            etag = response.headers["etag"]
            again = c.get(f"/api/images/{image_id}/file", headers={"if-none-match": etag})
            assert again.status_code == 304 and again.content == b""
            assert c.get(f"/api/images/{image_id}/file", headers={"if-none-match": '"other"'}).status_code == 200


def test_thumbnails_are_made_once_and_cached(sample: Sample, capsys: pytest.CaptureFixture[str]) -> None:
    big, _ = make_image(sample.ws.root, slug="big", data=encoded((3000, 2000), "PNG"), width=3000, height=2000)
    with client(sample.ws) as c:
        started = time.perf_counter()
        first = c.get(f"/api/images/{big}/thumb", params={"size": "256"})
        rendered = time.perf_counter() - started
        assert first.status_code == 200 and first.headers["content-type"] == "image/webp"
        thumb = Image.open(io.BytesIO(first.content))
        assert thumb.format == "WEBP" and max(thumb.size) == 256 and thumb.size == (256, 171)
        cached = sample.ws.state_dir / "thumbs" / f"{big}-256.webp"
        mtime = cached.stat().st_mtime_ns
        time.sleep(0.02)
        started = time.perf_counter()
        second = c.get(f"/api/images/{big}/thumb", params={"size": "256"})
        served = time.perf_counter() - started
        assert second.content == first.content and cached.stat().st_mtime_ns == mtime  # not rendered again
        assert c.get(f"/api/images/{big}/thumb", headers={"if-none-match": second.headers["etag"]}).status_code == 304
        small = Image.open(io.BytesIO(c.get(f"/api/images/{sample.jpeg}/thumb", params={"size": "100"}).content))
        assert small.size == (64, 48)  # never enlarged; size 100 is served from the 128 cache
        assert (sample.ws.state_dir / "thumbs" / f"{sample.jpeg}-128.webp").is_file()
        assert c.get(f"/api/images/{big}/thumb", params={"size": "huge"}).status_code == 400
        (sample.ws.root / "2026-03-14" / "broken-bbbbbbbbbbbb.png").write_bytes(b"not a png")
        broken = c.get("/api/images/bbbbbbbbbbbb/thumb")
        assert broken.status_code == 415 and "thumbnail" in broken.json()["error"]
        # A changed image gets a new thumbnail.
        sample.ws.find_image(big).write_bytes(encoded((100, 50), "PNG"))
        assert Image.open(io.BytesIO(c.get(f"/api/images/{big}/thumb").content)).size == (100, 50)
    with capsys.disabled():
        print(f"\nthumbnail of a 3000x2000 PNG: first request {rendered * 1000:.0f} ms, cached {served * 1000:.1f} ms")


def test_spend_without_a_ledger_is_zero_and_creates_nothing(sample: Sample) -> None:
    with client(sample.ws) as c:
        body = c.get("/api/spend").json()
    assert body["report"]["cost_usd"] == 0 and body["report"]["groups"] == [] and body["report"]["by"] == "day"
    assert body["totals"]["all_time"]["calls"] == 0 and body["totals"]["today"]["cost_usd"] == 0
    assert not (sample.ws.state_dir / "ledger.sqlite3").exists()


def test_spend_from_the_ledger(sample: Sample) -> None:
    now = datetime.now(UTC).replace(hour=12)
    seed_ledger(sample.ws.state_dir / "ledger.sqlite3", now)
    with client(sample.ws) as c:
        daily = c.get("/api/spend", params={"since": "30d", "by": "day"}).json()
        by_model = c.get("/api/spend", params={"since": "30d", "by": "model"}).json()
        assert c.get("/api/spend", params={"by": "colour"}).status_code == 400
        assert c.get("/api/spend", params={"since": "soon"}).status_code == 400
    assert daily["totals"]["all_time"]["cost_usd"] == pytest.approx(2.58)
    assert daily["totals"]["today"]["cost_usd"] == pytest.approx(0.21)
    assert daily["report"]["cost_usd"] == pytest.approx(1.58)
    days = {g["key"]: g["cost_usd"] for g in daily["report"]["groups"]}
    assert days[now.strftime("%Y-%m-%d")] == pytest.approx(0.21) and len(days) == 6
    assert by_model["report"]["groups"][0] == {**by_model["report"]["groups"][0], "key": "gpt-image-1.5"}


def test_facets(sample: Sample) -> None:
    with client(sample.ws) as c:
        assert c.get("/api/facets").json() == {
            "models": ["gpt-image-1-mini", "gpt-image-1.5"],
            "tools": ["edit", "generate", "outpaint"],
            "total": 4,
        }


@pytest.mark.parametrize(
    "path",
    [
        "/api/images/zzzzzzzzzzzz",
        "/api/images/ABCDEF012345/file",
        "/api/images/0123456789abc/thumb",
        "/api/images/0123456789ab",
        "/api/images/0123456789ab/file",
        "/api/images/..%2F..%2Fetc%2Fpasswd/file",
        "/api/images/%2e%2e/file",
        "/api/images/..%5c..%5cx/thumb",
        "/api/images/%00/file",
        "/api/images/0123456789ab%2F..%2F..%2F/file",
    ],
)
def test_bad_ids_and_traversal_attempts_are_not_found(sample: Sample, path: str) -> None:
    with client(sample.ws) as c:
        response = c.get(path)
    assert response.status_code in (400, 404), path
    assert b"root:" not in response.content


def test_symlinks_out_of_the_workspace_are_not_served(sample: Sample, tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(png((5, 5)))
    link = sample.ws.root / "2026-03-14" / "leak-cccccccccccc.png"
    link.symlink_to(secret)
    with client(sample.ws) as c:
        assert c.get("/api/images/cccccccccccc/file").status_code == 404
        assert "cccccccccccc" not in c.get("/api/images").text


def test_token_header_cookie_and_query(sample: Sample) -> None:
    with client(sample.ws, TOKEN) as c:
        for path in ("/", "/api/images", f"/api/images/{sample.root}/file", "/static/gallery.js"):
            assert c.get(path).status_code == 401, path
        denied = c.get("/api/images", headers={"authorization": "Bearer wrong"})
        assert denied.status_code == 401 and denied.headers["www-authenticate"].startswith("Bearer")
        assert c.get("/?token=wrong", follow_redirects=False).status_code == 401
        ok = c.get("/api/images", headers={"authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and len(ok.json()["images"]) == 4
        assert "set-cookie" not in ok.headers
        login = c.get("/", params={"token": TOKEN, "q": "moon"}, follow_redirects=False)
        assert login.status_code == 303 and login.headers["location"] == "/?q=moon"
        cookie = login.headers["set-cookie"]
        assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower() and "Path=/" in cookie
        assert TOKEN not in cookie and cookie_value(TOKEN) in cookie
        # TestClient keeps the cookie, as a browser would.
        assert c.get("/").status_code == 200
        assert c.get(f"/api/images/{sample.root}/thumb").status_code == 200
        c.cookies.clear()
        assert c.get("/api/images").status_code == 401
        assert c.get("/api/images", headers={"cookie": "easel_gallery=forged"}).status_code == 401
        assert c.get("/api/images", headers={"cookie": 'easel_gallery="bad; x'}).status_code == 401


def test_host_header_is_checked_on_loopback(sample: Sample) -> None:
    with client(sample.ws) as c:
        assert c.get("/api/facets", headers={"host": "evil.example"}).status_code == 421
        assert c.get("/api/facets", headers={"host": "127.0.0.1.evil.example:80"}).status_code == 421
        assert c.get("/api/facets", headers={"host": "localhost:9"}).status_code == 200
        assert c.get("/api/facets", headers={"host": "[::1]:8080"}).status_code == 200
    open_app = build_gallery_app(sample.ws, sample.ws.state_dir / "ledger.sqlite3", TOKEN, allowed_hosts=None)
    with TestClient(open_app, base_url="http://gallery.lan") as c:
        assert c.get("/api/facets", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_refuses_a_public_bind_without_a_token(
    workspace_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EASEL_WORKSPACE", str(workspace_dir))
    assert run_gallery("0.0.0.0", 0, False) == 2
    err = capsys.readouterr()
    assert "refusing to serve on 0.0.0.0 without a token" in err.err and "EASEL_AUTH_TOKEN" in err.err
    assert err.out == ""
    monkeypatch.setenv("EASEL_AUTH_TOKEN", "   ")
    assert run_gallery("192.0.2.1", 0, False) == 2


def test_gallery_url() -> None:
    assert gallery_url("127.0.0.1", 8000, None) == "http://127.0.0.1:8000/"
    assert gallery_url("0.0.0.0", 80, "a b/c") == "http://localhost:80/?token=a%20b%2Fc"
    assert gallery_url("::1", 5, None) == "http://[::1]:5/"


@dataclass
class Running:
    url: str
    process: subprocess.Popen[str]
    stderr: list[str]


@pytest.fixture
def start_gallery() -> Iterator[object]:
    """Start `run_gallery` in its own process on 127.0.0.1 (a free port) and stop it at the end."""
    started: list[Running] = []

    def start(workspace: Path, token: str | None = None) -> Running:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EASEL_")}
        env["EASEL_WORKSPACE"] = str(workspace)
        if token:
            env["EASEL_AUTH_TOKEN"] = token
        code = "import sys; from easel_mcp.gallery.cli import run_gallery; sys.exit(run_gallery('127.0.0.1', 0, False))"
        process = subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        lines: queue.Queue[str] = queue.Queue()
        seen: list[str] = []
        assert process.stderr is not None
        stream = process.stderr
        threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
        running = Running("", process, seen)
        started.append(running)
        deadline = time.monotonic() + 60  # only stops a hung test
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                assert process.poll() is None, "".join(seen)
                continue
            seen.append(line)
            if "open http" in line:
                running.url = line.split("open ", 1)[1].strip()
            if "startup complete" in line.lower() and running.url:
                return running
        raise AssertionError("the gallery did not start:\n" + "".join(seen))

    yield start
    for running in started:
        running.process.terminate()
        try:
            out, _ = running.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            running.process.kill()
            out, _ = running.process.communicate()
        assert out == "", "the gallery wrote to stdout"


def test_a_real_server_on_loopback(sample: Sample, start_gallery: object) -> None:
    running = start_gallery(sample.ws.root, TOKEN)  # type: ignore[operator]
    assert running.url.startswith("http://127.0.0.1:") and "?token=s3cret-token%2Fwith%2Bchars" in running.url
    base = running.url.split("?")[0].rstrip("/")
    assert httpx2.get(f"{base}/api/images").status_code == 401
    with httpx2.Client(base_url=base, headers={"authorization": f"Bearer {TOKEN}"}) as c:
        listing = c.get("/api/images").json()
        assert len(listing["images"]) == 4
        thumb = c.get(f"/api/images/{sample.root}/thumb")
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
        assert c.get("/").headers["content-security-policy"].startswith("default-src 'self'")
        assert c.get("/api/facets", headers={"host": "attacker.example"}).status_code == 421
    with httpx2.Client() as browser_like:
        login = browser_like.get(running.url, follow_redirects=True)
        assert login.status_code == 200 and "Easel gallery" in login.text
        assert browser_like.get(f"{base}/api/spend").status_code == 200
