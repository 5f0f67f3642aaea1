"""Input images: from the workspace (through the sandbox), an allowed input folder, or (with
EASEL_ALLOW_URLS) an https URL; checked and sent as they are when they are already valid."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from easel_mcp.errors import InvalidRequest
from easel_mcp.providers.base import InputImage
from easel_mcp.settings import Settings
from easel_mcp.workspace import Workspace

if TYPE_CHECKING:
    from easel_mcp.providers.download import ImageDownloader


@dataclass(frozen=True, slots=True)
class LoadedInput:
    """An input image read from the workspace, ready to send."""

    ref: str
    path: Path | None  # None for an image fetched from a URL (EASEL_ALLOW_URLS)
    image: InputImage
    width: int
    height: int
    sha256: str
    id: str | None


class InputLoader:
    def __init__(self, settings: Settings, workspace: Workspace) -> None:
        self.settings = settings
        self.workspace = workspace
        self._downloader: ImageDownloader | None = None

    async def aclose(self) -> None:
        if self._downloader is not None:
            await self._downloader.aclose()

    async def load(self, refs: Sequence[str]) -> list[LoadedInput]:
        fetched: dict[int, bytes] = {}
        for i, ref in enumerate(refs, start=1):
            if ref.strip().lower().startswith(("http://", "https://")):
                fetched[i] = await self._fetch(ref.strip())
        return await anyio.to_thread.run_sync(self._load_inputs_sync, list(refs), fetched)

    async def _fetch(self, url: str) -> bytes:
        """An input image from a URL: only with EASEL_ALLOW_URLS, https, public addresses, capped."""
        from easel_mcp.errors import PathNotAllowed, ProviderError
        from easel_mcp.providers.download import ImageDownloader

        if not self.settings.allow_urls:
            raise PathNotAllowed(
                f"{url!r} is a URL: input images must be files in the workspace {self.workspace.root} "
                "(or image ids); the server's owner can allow https URLs with EASEL_ALLOW_URLS=1"
            )
        if self._downloader is None:
            self._downloader = ImageDownloader(
                gateway_url="", gateway_headers={}, provider="inputs", subject="the input image"
            )
        try:
            return await self._downloader.fetch(url)
        except ProviderError as e:
            raise InvalidRequest(e.message, field="images") from e

    def _load_inputs_sync(self, refs: list[str], fetched: dict[int, bytes]) -> list[LoadedInput]:
        from easel_mcp.imaging.errors import ImagingError
        from easel_mcp.imaging.io import MAX_INPUT_BYTES, ensure_model_input, mime_of

        loaded: list[LoadedInput] = []
        for i, ref in enumerate(refs, start=1):
            what = f"image {i}" if len(refs) > 1 else "the image"
            path: Path | None = None
            if i in fetched:
                data = fetched[i]
            else:
                path = self.workspace.resolve_input(ref, what=what)
                size = path.stat().st_size
                if size > 50 * 1024 * 1024:
                    raise InvalidRequest(f"{what} ({ref}) is {size / 2**20:.1f} MB; the limit is 50 MB", field="images")
                data = self.workspace.read_file(path, limit=MAX_INPUT_BYTES, what=what)
            try:
                sent, info, converted = ensure_model_input(data, what=what)
            except ImagingError as e:
                raise InvalidRequest(f"{ref}: {e}", field="images") from e
            name = f"image-{i}.{info.format}"
            digest = hashlib.sha256(sent).hexdigest()
            if path is not None and not converted:
                # Valid as it is: stream it from disk when the request is sent, keep no copy in memory.
                image = InputImage(data=b"", filename=name, mime_type=mime_of(info.format), path=path, size=len(sent))
            else:
                image = InputImage(data=sent, filename=name, mime_type=mime_of(info.format), size=len(sent))
            del data, sent
            loaded.append(
                LoadedInput(
                    ref=ref,
                    path=path,
                    image=image,
                    width=info.width,
                    height=info.height,
                    sha256=digest,
                    id=self.workspace.id_of(path) if path else None,
                )
            )
        return loaded

    async def read_ref(self, ref: str, *, what: str) -> tuple[Path, bytes]:
        def read() -> tuple[Path, bytes]:
            from easel_mcp.imaging.io import MAX_INPUT_BYTES

            path = self.workspace.resolve_input(ref, what=what)
            return path, self.workspace.read_file(path, limit=MAX_INPUT_BYTES, what=what)

        return await anyio.to_thread.run_sync(read)

    async def prepare_mask(self, ref: str, first: LoadedInput) -> tuple[bytes, dict[str, Any]]:
        """Read a mask in any common form and turn it into OpenAI's: an RGBA PNG of the first image's
        exact size whose alpha is 0 where the model may paint."""
        from easel_mcp.imaging.masks import normalize_mask

        path, data = await self.read_ref(ref, what="the mask")
        result = await anyio.to_thread.run_sync(normalize_mask, data, (first.width, first.height), "auto")
        return result.png, {
            "mask": {
                "source": self.workspace.relative(path),
                "convention": result.convention_used,
                "edit_fraction": round(result.edit_fraction, 4),
                "resized_from": result.resized_from,
                "edit_bbox": result.edit_bbox,
            }
        }
