"""The extract-image API: images by URL or base64 and a prompt; 10 credits + 1 per image; and its formats.

As a plan: an engine that reads pages apart (local) gets one item per image, and the answer is composed
from every image's lines; a model gets one item, a single call that sees every image together.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from snapscribe.caller import Caller
from snapscribe.config import Settings
from snapscribe.contracts.errors import EXTRACT_IMAGE_ERRORS
from snapscribe.contracts.extract_image import ExtractImageRequest, ExtractImageResponse, ImageFormats, credit_usage
from snapscribe.contracts.fields import field_sources
from snapscribe.engines.base import Engine, ExtractionRequest, ExtractionResult, page_engine
from snapscribe.engines.layout import OcrLine
from snapscribe.engines.prompt_template import canonical_json, find_json_template
from snapscribe.errors import (
    EngineError,
    EngineThrottled,
    EngineUnavailable,
    ImageTooLarge,
    InvalidRequest,
    LimitExceeded,
    SnapscribeError,
)
from snapscribe.images.fetch import FetchPolicy, Resolver, fetch_to, vet_url
from snapscribe.images.formats import supported_formats
from snapscribe.images.prepare import PreparedImage, check_image, prepare_image
from snapscribe.jobs.plan import Deps, Finished, ItemOutcome, JobKind, PlanContext, WorkPlan, first_failure
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


def _fetch_policy(settings: Settings) -> FetchPolicy:
    return FetchPolicy(
        max_bytes=settings.max_image_bytes,
        connect_timeout=settings.url_connect_timeout,
        read_timeout=settings.url_read_timeout,
        total_timeout=settings.url_total_timeout,
        max_redirects=settings.url_max_redirects,
        allow_loopback=settings.allow_loopback_urls,
    )


def _read_input(plan: WorkPlan, index: int, sink: IO[bytes], settings: Settings, resolver: Resolver) -> int:
    """Image `index` of the request into `sink` (decoded, or fetched by URL), with the size limit."""
    item = str(plan.request["images"][index])
    if plan.request["inputMethod"] == "base64":
        data = _decode_base64(item, index, settings.max_image_bytes)
        sink.write(data)
        size = len(data)
    else:
        try:
            size = fetch_to(item.strip(), sink, _fetch_policy(settings), resolver)
        except SnapscribeError as error:
            raise error.prefixed(f"images[{index}]: ") from error
    if size > settings.max_image_bytes:
        raise ImageTooLarge(f"images[{index}]: the image is larger than {settings.max_image_bytes // MB} MB")
    return size


def _vet_urls(urls: Sequence[str], settings: Settings, resolver: Resolver) -> None:
    """Refuse, as their fetch would (the same checks, the same errors), URLs the service may not reach: another
    scheme, credentials, a host any of whose addresses is loopback, private, link-local or a metadata service. Each
    host is resolved once; the fetch resolves and checks it again, and connects to the address it checked."""
    policy = _fetch_policy(settings)
    resolved: dict[tuple[str, int], list[str]] = {}

    def resolve(host: str, port: int) -> list[str]:
        if (host, port) not in resolved:
            resolved[host, port] = resolver(host, port)
        return resolved[host, port]

    for index, url in enumerate(urls):
        try:
            vet_url(url.strip(), policy, resolve, what="image URL")
        except SnapscribeError as error:
            raise error.prefixed(f"images[{index}]: ") from error


def _checked(data: bytes, index: int, settings: Settings) -> None:
    """The image's header, as preparing it would check it: its format, its pixels."""
    try:
        check_image(data, max_pixels=settings.max_image_pixels)
    except SnapscribeError as error:
        raise error.prefixed(f"images[{index}]: ") from error


def _check_total(sizes: Sequence[int], settings: Settings) -> None:
    if sum(sizes) > settings.max_total_bytes:
        raise LimitExceeded(f"The images together are larger than {settings.max_total_bytes // MB} MB")


def _prepared(data: bytes, index: int, engine: Engine, settings: Settings) -> PreparedImage:
    try:
        return prepare_image(data, max_side=engine.max_image_side, max_pixels=settings.max_image_pixels)
    except SnapscribeError as error:
        raise error.prefixed(f"images[{index}]: ") from error


def _extraction_request(plan: WorkPlan, settings: Settings, images: Sequence[PreparedImage] = ()) -> ExtractionRequest:
    prompt = str(plan.request["prompt"])
    json_mode = bool(plan.request.get("jsonMode"))
    return ExtractionRequest(
        images=images,
        prompt=prompt,
        json_mode=json_mode,
        template=find_json_template(prompt) if json_mode else None,
        max_output_tokens=settings.max_output_tokens,
    )


def _as_json_text(text: str) -> str:
    """jsonMode promises a JSON string that parses: accept a fenced answer, refuse anything else."""
    document = canonical_json(text)
    if document is None:
        raise ExtractionFailed("the model's answer was not valid JSON")
    return document


class ExtractImage(JobKind):
    name = "extract_image"
    all_or_nothing = True  # one answer for all the images: an image that fails fails the request
    answer_model = ExtractImageResponse
    errors = EXTRACT_IMAGE_ERRORS
    context_model = PlanContext

    def plan(self, request: ExtractImageRequest, caller: Caller, deps: Deps) -> WorkPlan:
        settings = deps.settings
        count = len(request.images)
        if request.jsonMode:
            find_json_template(request.prompt)  # a template nested too deeply is refused now, before any hold
        if count > settings.max_images:
            raise LimitExceeded(f"At most {settings.max_images} images can be processed in one request")
        # Checked now, as the synchronous call and a job are both planned: a request that is invalid never becomes a
        # job, and the call holds nothing for it.
        if request.inputMethod == "base64":
            decoded = [
                _decode_base64(item, index, settings.max_image_bytes) for index, item in enumerate(request.images)
            ]
            _check_total([len(data) for data in decoded], settings)
            for index, data in enumerate(decoded):
                _checked(data, index, settings)
        else:
            _vet_urls(request.images, settings, deps.resolver)
        engine_id = settings.engine
        engine = deps.engine_for(engine_id)
        fetches = count if request.inputMethod == "url" else 0
        fetch_seconds = math.ceil(fetches / settings.url_fetches_in_parallel) * settings.url_seconds_per_fetch
        if engine.reads_pages_apart:
            items = [{"image": index} for index in range(count)]
            seconds = count * settings.local_seconds_per_page + fetch_seconds
        else:
            items = [{"images": count}]
            seconds = settings.model_seconds_per_call + count * settings.model_seconds_per_image + fetch_seconds
        return WorkPlan(
            kind=self.name,
            request={**request.model_dump(), "withFields": caller.with_fields},
            hold=credit_usage(count),
            items=items,
            seconds=seconds,
            context=PlanContext(engine=engine_id),
        )

    def run_item(self, plan: WorkPlan, index: int, deps: Deps) -> dict[str, Any]:
        engine = deps.engine_for(PlanContext.of(plan).engine)
        reader = page_engine(engine)
        if reader is not None:
            image = int(plan.items[index]["image"])
            buffer = io.BytesIO()
            size = _read_input(plan, image, buffer, deps.settings, deps.resolver)
            page = _prepared(buffer.getvalue(), image, engine, deps.settings)
            try:
                lines = reader.read_page(page, image)
            except (EngineThrottled, EngineUnavailable):
                raise  # their own answers: 503, retried in a job
            except EngineError as error:
                raise ExtractionFailed(error.message) from error
            return {"bytes": size, "lines": [asdict(line) for line in lines]}
        return self._one_call(plan, engine, deps)

    def _one_call(self, plan: WorkPlan, engine: Engine, deps: Deps) -> dict[str, Any]:
        """Every image to the model in one call: fetched a few at a time, each on disk until it is prepared."""
        settings = deps.settings
        count = len(plan.request["images"])
        with request_workspace(settings.tmp_dir, f"extract-{count}") as workspace:

            def read(index: int) -> tuple[Path, int]:
                path = workspace / f"image-{index:04d}"
                with path.open("wb") as sink:
                    return path, _read_input(plan, index, sink, settings, deps.resolver)

            with ThreadPoolExecutor(max_workers=settings.url_fetches_in_parallel, thread_name_prefix="fetch") as pool:
                futures = [pool.submit(read, index) for index in range(count)]
                read_inputs = []
                for future in futures:  # the first failure by image order, as a sequential read would find
                    read_inputs.append(future.result())
            _check_total([size for _path, size in read_inputs], settings)
            images = []
            for index, (path, _size) in enumerate(read_inputs):
                images.append(_prepared(path.read_bytes(), index, engine, settings))
                path.unlink(missing_ok=True)  # done with the original as soon as it is prepared
        try:
            result = engine.extract(_extraction_request(plan, settings, images))
        except (EngineThrottled, EngineUnavailable):
            raise  # their own answers: 503, retried in a job
        except EngineError as error:
            raise ExtractionFailed(error.message) from error
        return result.to_json()

    def finish(self, plan: WorkPlan, outcomes: Sequence[ItemOutcome], caller: Caller, deps: Deps) -> Finished:
        failure = first_failure(outcomes)
        if failure is not None:
            raise failure
        outputs = [outcome.output or {} for outcome in outcomes]
        count = len(plan.request["images"])
        reader = page_engine(deps.engine_for(PlanContext.of(plan).engine))
        if reader is not None:
            _check_total([int(output["bytes"]) for output in outputs], deps.settings)
            lines = [OcrLine(**line) for output in outputs for line in output["lines"]]
            composed = reader.compose(_extraction_request(plan, deps.settings), lines, count)
        else:
            composed = ExtractionResult.from_json(outputs[0])
        text = composed.text
        if plan.request.get("jsonMode"):
            text = _as_json_text(text)
        response = ExtractImageResponse(
            results=text,
            prompt=plan.request["prompt"],
            imageCount=count,
            creditUsage=plan.hold,
            fields=field_sources(composed.fields) if plan.request.get("withFields") else None,
        )
        return Finished(result=response, used=plan.hold)


EXTRACT_IMAGE = ExtractImage()


def list_image_formats(engines: list[str], default_engine: str) -> ImageFormats:
    """What GET /api/v1/extract-image answers: free of charge."""
    return ImageFormats.model_validate({**supported_formats(), "engines": engines, "defaultEngine": default_engine})
