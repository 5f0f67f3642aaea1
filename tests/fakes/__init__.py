"""Local fakes of upstream services for Easel's tests (no network, no keys)."""

from .openai_images import FakeOpenAIImages, RecordedRequest, Scripted, UploadedFile

__all__ = ["FakeOpenAIImages", "RecordedRequest", "Scripted", "UploadedFile"]
