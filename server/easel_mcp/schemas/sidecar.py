"""The sidecar: the JSON file beside each image (`<image>.json`) that records how it was made.

The one owner of its shape: `outputs.sidecar()` builds a `Sidecar`, `Workspace.write_sidecar` writes it
(`model_dump_json(indent=2)`, only the fields that were set: the same keys as ever), and every reader
(the index, recovery, rebuilt jobs, get_image, the gallery) gets one from `Sidecar.read` and reads
attributes. Part of the base: imports nothing of easel_mcp (pydantic only).

Versions: files written before the field existed have no `version` (and an `easel_version`): they are
version 1, which is also what is written today. Every field may be missing (hand-made or older files);
per-operation facts that are not fields (future ones, or a caller's) are kept as extra keys.

Reading is tolerant per image: a file Easel did not write or cannot parse (not UTF-8 JSON, not an object,
NaN, deeper than MAX_SIDECAR_DEPTH, a number over 64 bits, a field of the wrong type) reads as None, which
costs only that image's details.
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SIDECAR_VERSION: Final = 1
MAX_SIDECAR_DEPTH: Final = 32
_INT64: Final = 2**63


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow")


class SidecarParameters(_Part):
    """The call's validated options."""

    model: str | None = None
    size: str | None = None
    quality: str | None = None
    n: int | None = None
    background: str | None = None
    output_format: str | None = None
    output_compression: int | None = None
    moderation: str | None = None
    input_fidelity: str | None = None


class SidecarInput(_Part):
    """One input image of an edit: its id (None for a file that is not an Easel image, or a URL), its
    workspace-relative path (or the URL it was fetched from), hash and size."""

    id: str | None = None
    path: str | None = None
    sha256: str | None = None
    width: int | None = None
    height: int | None = None


class Sidecar(_Part):
    """What Easel records beside each image. Every field is optional for reading; `outputs.sidecar()`
    sets them all (and `job_id`, `mask` when the call has them)."""

    version: int = Field(default=SIDECAR_VERSION, ge=1, description="The sidecar schema version (1 if absent).")
    easel_version: str | None = None
    id: str | None = None
    file: str | None = Field(default=None, description="The image's file name (in the same folder).")
    created_at: str | None = Field(default=None, description="ISO 8601 with offset (times.sidecar_time).")
    operation: str | None = None
    prompt: str | None = None
    revised_prompt: str | None = None
    parameters: SidecarParameters | None = None
    provider: str | None = None
    model: str | None = None
    ai_generated: bool | None = None
    index: int | None = Field(default=None, description="The image's place in its call's answer.")
    siblings: list[str] = Field(default_factory=list, description="Ids of the other images of the same call.")
    usage: dict[str, Any] | None = None
    cost_usd: float | None = Field(default=None, description="The whole call's cost (shared by its images).")
    cost_note: str | None = None
    call_cost_usd_shared_by: int | None = None
    estimated_cost_usd: float | None = None
    elapsed_s: float | None = None
    request_id: str | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None
    sha256: str | None = None
    inputs: list[SidecarInput] = Field(default_factory=list)
    parents: list[str] = Field(default_factory=list, description="Ids of the Easel images it was made from.")
    job_id: str | None = Field(default=None, description="The job that made it (calls run as jobs only).")
    mask: dict[str, Any] | None = Field(default=None, description="The mask of an edit (source, convention ...).")
    geometry: dict[str, Any] | None = Field(default=None, description="Inpaint/outpaint geometry.")
    warnings: list[str] = Field(default_factory=list)

    @classmethod
    def read(cls, data: bytes) -> Sidecar | None:
        """The sidecar in `data`, or None for a file Easel did not write or cannot parse (see the module)."""
        loaded = _json_object(data)
        if loaded is None:
            return None
        try:
            return cls.model_validate(loaded, strict=True)
        except ValidationError:
            return None

    def dump(self) -> bytes:
        """The file's bytes: indented UTF-8 JSON of the fields that were set (and the version, always)."""
        return self.model_copy(update={"version": self.version}).model_dump_json(indent=2, exclude_unset=True).encode()

    def shown(self) -> dict[str, Any]:
        """The fields as the file has them (nothing added): what get_image and the gallery show."""
        return self.model_dump(mode="json", exclude_unset=True)


def _json_object(data: bytes) -> dict[str, Any] | None:
    """A JSON object, or None: not UTF-8, not JSON, not an object, NaN or Infinity, nested deeper than
    MAX_SIDECAR_DEPTH, or a number that does not fit 64 bits (Python refuses ints over 4300 digits with a
    ValueError; deep nesting is a RecursionError)."""
    try:
        loaded = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(loaded, dict) or not _plain(loaded):
        return None
    return loaded


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _plain(value: Any) -> bool:
    """True for JSON values within the depth limit whose numbers fit 64 bits (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= MAX_SIDECAR_DEPTH:
                return False
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
        elif not _number_fits(item):
            return False
    return True


def _number_fits(item: Any) -> bool:
    if isinstance(item, float):
        return math.isfinite(item)
    return not isinstance(item, int) or isinstance(item, bool) or -_INT64 <= item < _INT64
