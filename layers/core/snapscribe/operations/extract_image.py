"""The extract-image API: read the images (base64 or URL), hold 10 + 1 per image, extract; formats."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from snapscribe.accounts.service import AccountService
from snapscribe.config import Settings
from snapscribe.contracts.extract_image import ExtractImageRequest, ExtractImageResponse, credit_usage
from snapscribe.engines.base import Engine, ExtractionRequest
from snapscribe.engines.prompt_template import canonical_json, find_json_template
from snapscribe.errors import EngineError, ImageTooLarge, InvalidRequest, LimitExceeded, SnapscribeError
from snapscribe.images.fetch import FetchPolicy, Resolver, fetch_to, system_resolver
from snapscribe.images.formats import supported_formats
from snapscribe.images.prepare import PreparedImage, prepare_image
from snapscribe.operations.caller import Caller
from snapscribe.storage.tempfiles import request_workspace

MB = 1024 * 1024


class ExtractionFailed(EngineError):
    """The engine failed after the request was accepted; the API's 500 shape carries the reason."""


def _decode_base64(value: str, index: int, limit: int) -> bytes:
    payload = value.strip()
    if payload.startswith("data:"):  # a data URL: data:image/png;base64,....
        header, _, payload = payload.partition(",")
        if ";base64" not in header:
            raise InvalidRequest(f"images[{index}]: a data URL must be base64-encoded")
    payload = "".join(payload.split())
    if len(payload) * 3 // 4 > limit + 2:
        raise ImageTooLarge(f"images[{index}]: the image is larger than {limit // MB} MB")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidRequest(f"images[{index}]: not valid base64") from error
    if not data:
        raise InvalidRequest(f"images[{index}]: the image is empty")
    return data


def _read_inputs(request: ExtractImageRequest, workspace: Path, settings: Settings, resolver: Resolver) -> list[Path]:
    """Each image's bytes in a temporary file (never all of them in memory), with the size limits."""
    paths: list[Path] = []
    total = 0
    for index, item in enumerate(request.images):
        path = workspace / f"image-{index:04d}"
        if request.inputMethod == "base64":
            data = _decode_base64(item, index, settings.max_image_bytes)
            path.write_bytes(data)
            size = len(data)
        else:
            policy = FetchPolicy(
                max_bytes=settings.max_image_bytes,
                connect_timeout=settings.url_connect_timeout,
                read_timeout=settings.url_read_timeout,
                total_timeout=settings.url_total_timeout,
                max_redirects=settings.url_max_redirects,
                allow_loopback=settings.allow_loopback_urls,
            )
            try:
                with path.open("wb") as sink:
                    size = fetch_to(item.strip(), sink, policy, resolver)
            except SnapscribeError as error:
                raise error.prefixed(f"images[{index}]: ") from error
        if size > settings.max_image_bytes:
            raise ImageTooLarge(f"images[{index}]: the image is larger than {settings.max_image_bytes // MB} MB")
        total += size
        if total > settings.max_total_bytes:
            raise LimitExceeded(f"The images together are larger than {settings.max_total_bytes // MB} MB")
        paths.append(path)
    return paths


def _prepare(paths: list[Path], engine: Engine, settings: Settings) -> list[PreparedImage]:
    prepared = []
    for index, path in enumerate(paths):
        try:
            prepared.append(
                prepare_image(path.read_bytes(), max_side=engine.max_image_side, max_pixels=settings.max_image_pixels)
            )
        except SnapscribeError as error:
            raise error.prefixed(f"images[{index}]: ") from error
        finally:
            path.unlink(missing_ok=True)  # done with the original as soon as it is prepared
    return prepared


def _as_json_text(text: str) -> str:
    """jsonMode promises a JSON string that parses: accept a fenced answer, refuse anything else."""
    document = canonical_json(text)
    if document is None:
        raise ExtractionFailed("the model's answer was not valid JSON")
    return document


def extract_image(
    request: ExtractImageRequest,
    caller: Caller,
    *,
    accounts: AccountService,
    engine: Engine,
    settings: Settings,
    resolver: Resolver = system_resolver,
) -> ExtractImageResponse:
    if len(request.images) > settings.max_images:
        raise LimitExceeded(f"At most {settings.max_images} images can be processed in one request")
    cost = credit_usage(len(request.images))
    with accounts.hold(caller, cost):
        with request_workspace(settings.tmp_dir, caller.request_id) as workspace:
            paths = _read_inputs(request, workspace, settings, resolver)
            images = _prepare(paths, engine, settings)
        try:
            result = engine.extract(
                ExtractionRequest(
                    images=images,
                    prompt=request.prompt,
                    json_mode=request.jsonMode,
                    template=find_json_template(request.prompt) if request.jsonMode else None,
                    max_output_tokens=settings.max_output_tokens,
                )
            )
        except EngineError as error:
            raise ExtractionFailed(error.message) from error
        text = _as_json_text(result.text) if request.jsonMode else result.text
        return ExtractImageResponse(results=text, prompt=request.prompt, imageCount=len(images), creditUsage=cost)


def list_image_formats() -> dict[str, object]:
    """What GET /api/v1/extract-image answers: free of charge."""
    return supported_formats()
