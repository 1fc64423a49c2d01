"""The extract-image API: POST /api/v1/extract-image (images by URL or base64, and a prompt)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from snapscribe.contracts.fields import FieldSource

BASE_CREDITS = 10
CREDITS_PER_IMAGE = 1


def credit_usage(image_count: int) -> int:
    return BASE_CREDITS + CREDITS_PER_IMAGE * image_count


class ExtractImageRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    inputMethod: Literal["url", "base64"]
    images: list[str] = Field(min_length=1)
    prompt: str = Field(min_length=1)
    jsonMode: StrictBool = False

    @field_validator("prompt")
    @classmethod
    def prompt_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class ExtractImageResponse(BaseModel):
    results: str
    prompt: str
    imageCount: int
    creditUsage: int
    # Each filled field's value, confidence (0-1), page and box [x0, y0, x1, y1] by JSON pointer, only when asked
    # (?fields=true): the contract's body is otherwise exactly as specified. An engine that cannot tell (a language
    # model) answers {}.
    fields: dict[str, FieldSource] | None = Field(default=None, exclude_if=lambda value: value is None)


class ImageFormat(BaseModel):
    format: str
    mimeType: str
    extensions: list[str]
    handling: str  # "as-is", or what the image is converted to before the engine sees it


class ImageFormats(BaseModel):
    """What GET /api/v1/extract-image answers: the formats an image may be sent in."""

    supportedFormats: list[ImageFormat]
    notes: str
    # The engines this deployment offers (the operator's choice): what the batch-extraction API's engine.name and
    # the structured-extraction API's model may name; defaultEngine serves the routes where the contract names none.
    engines: list[str] = []
    defaultEngine: str | None = None
