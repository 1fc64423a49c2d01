"""The structured-extraction API: one image and a prompt (usually a JSON template) -> the filled template."""

from __future__ import annotations

from collections.abc import Callable

from snapscribe.accounts.service import AccountService
from snapscribe.config import Settings
from snapscribe.contracts.structured_extraction import (
    ACCEPTED_FORMATS,
    DEFAULT_MODEL,
    MAX_IMAGE_BYTES,
    SUCCESS,
    BaseResp,
    StructuredExtractionForm,
    StructuredExtractionResponse,
    Usage,
)
from snapscribe.engines.base import Engine, ExtractionRequest
from snapscribe.engines.prompt_template import canonical_json, find_json_template
from snapscribe.errors import ImageTooLarge, MissingField, UnsupportedImageFormat
from snapscribe.images.prepare import prepare_image, sniff_format
from snapscribe.operations.caller import Caller

MB = 1024 * 1024


def check_image(image: bytes) -> str:
    """Size first, then the format from the bytes (not the file name): JPG, JPEG, PNG and BMP only."""
    if len(image) > MAX_IMAGE_BYTES:
        raise ImageTooLarge(f"Image size exceeds 10MB limit ({len(image) / MB:.1f} MB)")
    if not image:
        raise MissingField("Missing required field: image (the file is empty)")
    image_format = sniff_format(image)
    if image_format not in ACCEPTED_FORMATS:
        raise UnsupportedImageFormat(f"Invalid image format ({image_format}). Only JPG, JPEG, PNG, BMP are supported")
    return image_format


def wants_json(prompt: str, template: object) -> bool:
    return template is not None or "json" in prompt.lower()


def extract_structured(
    form: StructuredExtractionForm,
    caller: Caller,
    *,
    accounts: AccountService,
    engine_for: Callable[[str | None], Engine],
    settings: Settings,
) -> StructuredExtractionResponse:
    engine = engine_for(None if form.model == DEFAULT_MODEL else form.model)
    check_image(form.image)
    prepared = prepare_image(form.image, max_side=engine.max_image_side, max_pixels=settings.max_image_pixels)
    template = find_json_template(form.prompt)
    with accounts.hold(caller, engine.token_hold(1, form.prompt)) as hold:
        result = engine.extract(
            ExtractionRequest(
                images=[prepared],
                prompt=form.prompt,
                json_mode=wants_json(form.prompt, template),
                template=template,
                scene=form.scene,
                max_output_tokens=settings.max_output_tokens,
            )
        )
        content = result.text
        if wants_json(form.prompt, template):
            content = canonical_json(content) or content  # a model's non-JSON answer is still its text
        hold.use(result.total_tokens)
        return StructuredExtractionResponse(
            content=content,
            usage=Usage(
                prompt_tokens=result.prompt_tokens,
                completion_tokens=result.completion_tokens,
                total_tokens=result.prompt_tokens + result.completion_tokens,
            ),
            base_resp=BaseResp(status_code=SUCCESS, status_msg="success"),
        )
