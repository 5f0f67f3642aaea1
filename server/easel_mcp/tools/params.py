"""Parameter types shared by the image tools. Each description is written for the model."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Prompt = Annotated[str, Field(description="What the image should show: subject, style, composition, text to render.")]
Model = Annotated[
    str | None,
    Field(description="Image model, e.g. gpt-image-1.5 or gpt-image-2. Default: the server's configured model."),
]
ProviderChoice = Annotated[
    str | None,
    Field(
        description="Which configured upstream to use: openai, azure, compatible, gemini or offline "
        "(list_models shows what is configured). Default: the server's."
    ),
]
Size = Annotated[
    str,
    Field(
        description="square, portrait, landscape, auto, or WIDTHxHEIGHT (gpt-image-1.5: 1024x1024, 1536x1024, "
        "1024x1536; gpt-image-2 models: any size with sides multiple of 16, up to 3840 px)."
    ),
]
Quality = Annotated[
    str,
    Field(description="low, medium, high or auto (gpt-image-2.5 also xhigh, max). Higher costs more."),
]
Count = Annotated[int, Field(ge=1, le=10, description="How many images to make (1-10); each is billed.")]
Background = Annotated[
    Literal["auto", "transparent", "opaque"],
    Field(description="transparent needs output_format png or webp."),
]
OutputFormat = Annotated[Literal["png", "jpeg", "webp"], Field(description="File format of the result.")]
Compression = Annotated[
    int | None, Field(ge=0, le=100, description="jpeg/webp only: compression 0-100 (higher = smaller file).")
]
Name = Annotated[
    str | None,
    Field(description="Short label for the file name (default: taken from the prompt). Never a path."),
]
Preview = Annotated[
    Literal["auto", "none", "full"],
    Field(
        description="auto: a small inline preview per image (about 200 KB in all); none: links only; full: the "
        "original inline when it fits 1 MiB."
    ),
]
Images = Annotated[
    list[str],
    Field(
        min_length=1,
        max_length=16,
        description="1-16 input images: paths relative to the workspace, or image ids from earlier results. "
        "The first image is the one that is edited.",
    ),
]
MaskRef = Annotated[
    str | None,
    Field(
        description="Optional mask (workspace path or image id) for the first image: transparent (or white on "
        "an opaque mask) marks where to paint. For boxes or ellipses use the inpaint tool."
    ),
]
Fidelity = Annotated[
    Literal["low", "high"] | None,
    Field(description="gpt-image-1/1.5 only: how closely to keep faces and details of the inputs (high costs more)."),
]
Moderation = Annotated[
    Literal["auto", "low"] | None, Field(description="Content moderation strictness for generations.")
]

PartialImages = Annotated[
    int,
    Field(
        ge=0,
        le=3,
        description="Stream 1-3 partial images while the model works: each is saved in the "
        "workspace and reported as progress (100 extra output tokens each). OpenAI models.",
    ),
]
DryRun = Annotated[
    bool,
    Field(description="true: validate and price the call, send nothing and write nothing."),
]
Wait = Annotated[
    bool,
    Field(
        description="false: answer at once with status 'running', a job_id and the estimate; get_job(job_id) "
        "returns the images when they are done. For hosts that cut long calls short."
    ),
]
Image = Annotated[
    str, Field(description="The image to change: a path relative to the workspace, or an image id from a result.")
]


class Region(BaseModel):
    """A box (or the ellipse inside it) in pixels of the source image; x, y is the top-left corner."""

    model_config = ConfigDict(extra="forbid")

    x: int = Field(ge=0, description="Left edge in pixels.")
    y: int = Field(ge=0, description="Top edge in pixels.")
    width: int = Field(gt=0, description="Width in pixels.")
    height: int = Field(gt=0, description="Height in pixels.")
    shape: Literal["rect", "ellipse"] = Field(default="rect", description="rect, or the ellipse inside the box.")
