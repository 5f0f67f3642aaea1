"""A real, deterministic renderer that needs no key and no network.

Generations are honest placeholders of the exact size and format (a composition seeded by the
prompt, the prompt text and an "offline preview" mark); edits follow the API's mask rule exactly
(only pixels whose mask alpha is 0 change). Every result says that no AI model was used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import anyio.to_thread

from easel_mcp.providers.base import EditRequest, GenerateRequest, PartialCallback, ProviderResult
from easel_mcp.providers.profile import ProviderProfile, always

if TYPE_CHECKING:
    from easel_mcp.settings import Settings

NOTE = "offline provider: a deterministic placeholder drawn locally; no AI model was used and nothing was billed"


PROFILE = ProviderProfile(
    "offline",
    "the local placeholder renderer draws any model's sizes",
    configured=always,  # last in the registry: auto's fallback
    bills=False,
    note="placeholders drawn locally: no AI model, nothing billed; every model's sizes work",
)


class OfflineProvider:
    name = "offline"
    profile: ClassVar[ProviderProfile] = PROFILE

    @classmethod
    def from_settings(cls, settings: Settings) -> OfflineProvider:
        return cls()

    async def warm_up(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def generate(self, request: GenerateRequest) -> ProviderResult:
        from easel_mcp.imaging.offline import render_generation

        size = request.dimensions or (1024, 1024)

        def render() -> list[bytes]:
            return [
                render_generation(
                    request.prompt,
                    size,
                    fmt=request.output_format,
                    background=request.background or "auto",
                    compression=request.output_compression,
                    index=i,
                )
                for i in range(request.n)
            ]

        images = await anyio.to_thread.run_sync(render)
        await self._partials(images[0], request.output_format, request.partial_images, request.on_partial)
        return self._result(images, request.output_format, size, request.quality)

    async def edit(self, request: EditRequest) -> ProviderResult:
        from easel_mcp.imaging.io import open_image
        from easel_mcp.imaging.offline import render_edit

        def render() -> tuple[list[bytes], tuple[int, int]]:
            first = open_image(request.images[0].read(), what="image 1")
            size = request.dimensions or first.size
            return [
                render_edit(
                    first,
                    request.mask,
                    request.prompt,
                    size,
                    fmt=request.output_format,
                    compression=request.output_compression,
                    index=i,
                )
                for i in range(request.n)
            ], size

        images, size = await anyio.to_thread.run_sync(render)
        await self._partials(images[0], request.output_format, request.partial_images, request.on_partial)
        return self._result(images, request.output_format, size, request.quality)

    @staticmethod
    async def _partials(final: bytes, fmt: str, count: int, on_partial: PartialCallback | None) -> None:
        """Like a streaming model: blurry first drafts of the final image, sharper each time."""
        if not count or on_partial is None:
            return

        def draft(index: int) -> bytes:
            from PIL import ImageFilter

            from easel_mcp.imaging.io import encode, open_image

            radius = 24 // (index + 1)
            return encode(open_image(final).filter(ImageFilter.GaussianBlur(radius)), fmt)

        for index in range(count):
            await on_partial(index, await anyio.to_thread.run_sync(draft, index))

    @staticmethod
    def _result(images: list[bytes], fmt: str, size: tuple[int, int], quality: str) -> ProviderResult:
        return ProviderResult(
            images=images,
            output_format=fmt,
            usage=None,
            request_id=None,
            revised_prompts=[None] * len(images),
            size=f"{size[0]}x{size[1]}",
            quality=quality,
            ai_generated=False,
            notes=[NOTE],
        )
