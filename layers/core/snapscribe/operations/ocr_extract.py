"""Seed 002: one image and a prompt (usually a JSON template) as multipart -> the filled template."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from multipart import MultipartError, MultipartParser, parse_options_header

from snapscribe.accounts.service import AccountService
from snapscribe.config import Settings
from snapscribe.contracts.ocr_extract import (
    ACCEPTED_FORMATS,
    DEFAULT_MODEL,
    MAX_IMAGE_BYTES,
    SCENES,
    SUCCESS,
    BaseResp,
    OcrExtractResponse,
    Usage,
)
from snapscribe.engines.base import Engine, ExtractionRequest
from snapscribe.engines.template import canonical_json, find_json_template
from snapscribe.errors import ImageTooLarge, InvalidRequest, MissingField, UnsupportedImageFormat
from snapscribe.images.prepare import prepare_image, sniff_format
from snapscribe.web.calls import Call, Outcome

ROUTE = "POST /v1/ocr/image/extract"
MB = 1024 * 1024


@dataclass(frozen=True)
class ExtractForm:
    model: str
    scene: str
    prompt: str
    image: bytes
    filename: str


def parse_form(body: bytes, content_type: str) -> ExtractForm:
    """The multipart form, parsed in memory by the `multipart` library; typed errors for what is wrong."""
    media_type, options = parse_options_header(content_type or "")
    if media_type != "multipart/form-data" or not options.get("boundary"):
        raise InvalidRequest("The request must be multipart/form-data with a boundary")
    fields: dict[str, str] = {}
    image: bytes | None = None
    filename = ""
    try:
        parser = MultipartParser(
            io.BytesIO(body),
            options["boundary"],
            content_length=len(body),
            part_limit=16,
            # Everything stays in memory (a Lambda request is at most 6 MB): no temporary files.
            spool_limit=MAX_IMAGE_BYTES + MB,
            memory_limit=MAX_IMAGE_BYTES + 2 * MB,
        )
        for part in parser:
            if part.name == "image" and part.filename is not None:
                image, filename = part.raw, part.filename
            elif part.name in ("model", "scene", "prompt"):
                fields[part.name] = part.value
            part.close()
    except MultipartError as error:
        raise InvalidRequest(f"The multipart body could not be parsed: {error}") from error
    for name in ("model", "prompt"):
        if not fields.get(name, "").strip():
            raise MissingField(f"Missing required field: {name}")
    if image is None:
        raise MissingField("Missing required field: image")
    scene = (fields.get("scene") or "general").strip().lower()
    if scene not in SCENES:
        raise InvalidRequest(f"Invalid scene {scene!r}: use general or medical")
    return ExtractForm(fields["model"].strip(), scene, fields["prompt"], image, filename)


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


def extract(
    call: Call,
    form: ExtractForm,
    *,
    accounts: AccountService,
    engine_for: Callable[[str | None], Engine],
    settings: Settings,
) -> Outcome:
    engine = engine_for(None if form.model == DEFAULT_MODEL else form.model)
    check_image(form.image)
    prepared = prepare_image(form.image, max_side=engine.max_image_side, max_pixels=settings.max_image_pixels)
    template = find_json_template(form.prompt)
    hold = engine.token_hold(1, form.prompt)
    reservation = accounts.reserve(call.principal, hold, request_id=call.request_id, route=ROUTE)
    settled = False
    try:
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
        used = min(result.total_tokens, hold)
        response = OcrExtractResponse(
            content=content,
            usage=Usage(
                prompt_tokens=result.prompt_tokens,
                completion_tokens=result.completion_tokens,
                total_tokens=result.prompt_tokens + result.completion_tokens,
            ),
            base_resp=BaseResp(status_code=SUCCESS, status_msg="success"),
        )
        accounts.settle(reservation, refund=hold - used)
        settled = True
        return Outcome(200, response.model_dump())
    finally:
        if not settled:
            accounts.settle(reservation, refund=hold)


def content_type_of(headers: Mapping[str, str]) -> str:
    return next((value for name, value in headers.items() if name.lower() == "content-type"), "")
