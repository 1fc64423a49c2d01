"""The structured-extraction API: one image and a prompt (usually a JSON template) -> the filled template."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from snapscribe.caller import Caller
from snapscribe.contracts.errors import STRUCTURED_EXTRACTION_ERRORS
from snapscribe.contracts.fields import field_sources
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
from snapscribe.engines.base import ExtractionRequest, ExtractionResult
from snapscribe.engines.prompt_template import canonical_json, find_json_template
from snapscribe.errors import ImageTooLarge, MissingField, UnsupportedImageFormat
from snapscribe.images.prepare import prepare_image, sniff_format
from snapscribe.jobs.plan import Deps, Finished, ItemOutcome, JobKind, PlanContext, WorkPlan, first_failure

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


class ExtractStructured(JobKind):
    name = "extract_structured"
    all_or_nothing = True
    answer_model = StructuredExtractionResponse
    errors = STRUCTURED_EXTRACTION_ERRORS
    context_model = PlanContext

    def plan(self, form: StructuredExtractionForm, caller: Caller, deps: Deps) -> WorkPlan:
        engine_id = None if form.model == DEFAULT_MODEL else form.model
        engine = deps.engine_for(engine_id)
        check_image(form.image)
        find_json_template(form.prompt)  # a template nested too deeply is refused now, before any hold
        prepare_image(form.image, max_side=engine.max_image_side, max_pixels=deps.settings.max_image_pixels)
        return WorkPlan(
            kind=self.name,
            request={
                "model": form.model,
                "scene": form.scene,
                "prompt": form.prompt,
                "filename": form.filename,
                "withFields": caller.with_fields,
            },
            hold=deps.credits(engine_id, engine.token_hold(1, form.prompt), 1),
            items=[{"image": 0}],
            seconds=(
                deps.settings.local_seconds_per_page
                if engine.reads_pages_apart
                else deps.settings.model_seconds_per_call + deps.settings.model_seconds_per_image
            ),
            context=PlanContext(engine=engine_id or deps.settings.engine),
            inputs={"image": form.image},
        )

    def run_item(self, plan: WorkPlan, index: int, deps: Deps) -> dict[str, Any]:
        engine = deps.engine_for(PlanContext.of(plan).engine)
        prompt = str(plan.request["prompt"])
        image = prepare_image(
            plan.inputs["image"], max_side=engine.max_image_side, max_pixels=deps.settings.max_image_pixels
        )
        template = find_json_template(prompt)
        result = engine.extract(
            ExtractionRequest(
                images=[image],
                prompt=prompt,
                json_mode=wants_json(prompt, template),
                template=template,
                scene=str(plan.request["scene"]),
                max_output_tokens=deps.settings.max_output_tokens,
            )
        )
        return result.to_json()

    def finish(self, plan: WorkPlan, outcomes: Sequence[ItemOutcome], caller: Caller, deps: Deps) -> Finished:
        failure = first_failure(outcomes)
        if failure is not None:
            raise failure
        answered = ExtractionResult.from_json(outcomes[0].output or {})
        prompt = str(plan.request["prompt"])
        content = answered.text
        if wants_json(prompt, find_json_template(prompt)):
            content = canonical_json(content) or content  # a model's non-JSON answer is still its text
        response = StructuredExtractionResponse(
            content=content,
            usage=Usage(
                prompt_tokens=answered.prompt_tokens,
                completion_tokens=answered.completion_tokens,
                total_tokens=answered.total_tokens,
            ),
            base_resp=BaseResp(status_code=SUCCESS, status_msg="success"),
            fields=field_sources(answered.fields) if plan.request.get("withFields") else None,
        )
        used = deps.credits(PlanContext.of(plan).engine, answered.total_tokens, 1)  # at the engine's price
        return Finished(result=response, used=min(used, plan.hold))


EXTRACT_STRUCTURED = ExtractStructured()
