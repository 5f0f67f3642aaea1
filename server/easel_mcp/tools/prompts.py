"""MCP prompts: templates that lead an agent to use the image tools well."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer


def product_shot(product: str, style: str = "clean studio lighting, soft shadow") -> str:
    """A product photo on a transparent background, ready to place on any page."""
    return (
        f"Make a product shot of {product} with generate_image: prompt it as a photograph of the product alone, "
        f"{style}, centred with a little margin, no text. Use background=transparent and output_format=png, "
        "quality=high, size=square. Call estimate_cost first if the budget is tight. Show me the preview, then "
        "offer one variation (n=2) only if I ask."
    )


def app_icon(app_name: str, motif: str, sizes: str = "1024,512,180,64") -> str:
    """An app icon, made once at 1024x1024 and then exported in several sizes."""
    return (
        f"Design an app icon for {app_name}: {motif}. Use generate_image with size=square, quality=high, "
        "background=opaque, a simple bold shape that reads at small sizes, no text. Then tell me the path of the "
        f"1024x1024 master so I can export these sizes: {sizes} px (Easel writes the master; resizing is mine)."
    )


def remove_object(image: str, what: str) -> str:
    """Remove something from an image without touching the rest."""
    return (
        f"Remove {what} from the image {image}. First look at the image's preview and estimate the box around "
        f"{what} in pixels of the image (x, y, width, height; the image's size is in the result or get it from "
        "a dry_run). Then call inpaint with that box in regions, a prompt describing what should be there instead "
        "(the background that continues around it), feather=8, and keep preserve_unmasked=true so every other "
        "pixel stays exactly as it was."
    )


def extend_to_banner(image: str, aspect_ratio: str = "16:9") -> str:
    """Extend a photo into a wide banner by outpainting."""
    return (
        f"Extend the image {image} into a {aspect_ratio} banner with outpaint: aspect_ratio={aspect_ratio}, anchor "
        "center (or left/right if the subject should sit to one side), and a prompt that describes how the scene "
        "continues beyond the edges. The original pixels are kept exactly; only the new area is painted."
    )


def register(server: MCPServer) -> None:
    for fn, title in (
        (product_shot, "Product shot"),
        (app_icon, "App icon"),
        (remove_object, "Remove an object"),
        (extend_to_banner, "Extend to a banner"),
    ):
        server.prompt(title=title)(fn)
