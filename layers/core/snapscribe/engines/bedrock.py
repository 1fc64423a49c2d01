"""Amazon Bedrock through its Converse API: one wire format for every model it hosts that reads images (Claude,
Nova, Llama, Pixtral), one call that sees every image of a request together."""

from __future__ import annotations

import io
import json
import logging
import math
import re
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, NoCredentialsError, ReadTimeoutError
from PIL import Image

from snapscribe.engines.base import ExtractionRequest, ExtractionResult
from snapscribe.engines.gemini import SYSTEM_INSTRUCTIONS, response_schema
from snapscribe.errors import (
    EngineError,
    EngineInputTooLarge,
    EngineThrottled,
    EngineTimeout,
    EngineUnavailable,
    InvalidRequest,
    SnapscribeError,
)
from snapscribe.images.formats import register_openers
from snapscribe.images.prepare import PreparedImage, flatten_to_rgb, signature_format

if TYPE_CHECKING:
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient
    from mypy_boto3_bedrock_runtime.literals import ImageFormatType
    from mypy_boto3_bedrock_runtime.type_defs import (
        ContentBlockTypeDef,
        ConverseRequestTypeDef,
        ToolConfigurationTypeDef,
        ToolSpecificationTypeDef,
    )

# Converse's documented limits (API reference, Message.content): up to 20 images, each at most 3.75 MB and
# 8000 px a side. The bytes are read as decimal megabytes, the stricter reading.
MAX_IMAGES = 20
MAX_IMAGE_BYTES = 3_750_000
MAX_IMAGE_SIDE = 8000
# Pillow's format name -> ImageBlock.format; anything else (HEIF, TIFF, BMP...) is re-encoded.
CONVERSE_FORMATS: dict[str, ImageFormatType] = {"PNG": "png", "JPEG": "jpeg", "GIF": "gif", "WEBP": "webp"}
LOSSY_SOURCES = frozenset({"JPEG", "HEIF", "WEBP"})  # re-encoded as JPEG: a photo as PNG is many times larger

# The hold's bound for one image: Anthropic documents Claude's image tokens as (width x height) / 750, ~1,600 for
# the 1568 px images its older models scale to (docs.anthropic.com, Vision, "Calculate image costs"). Applied to
# the largest image this engine sends (max_image_side a side) it bounds newer models that read more pixels too
# (Opus 4.7: up to 2576 px); Nova's published table stays under it (~2,600 at 1.3K x 1.3K; Nova 2: 230 flat).
PIXELS_PER_IMAGE_TOKEN = 750
# The system prompt Claude adds when tools are given: at most 530 tokens in Anthropic's table (Claude 3 Opus, auto;
# docs.anthropic.com, "Tool use pricing and tokens"), on top of the tool's own schema.
TOOL_PROMPT_TOKENS = 530

TOOL_NAME = "answer"
TOOL_DESCRIPTION = (
    "Give the answer: the template's fields filled from the images, copied as printed; null for a field the "
    "images do not show."
)
WRAP_KEY = "items"  # a tool's input is an object: a list (or scalar) template is asked for inside one
JSON_INSTRUCTION = "Answer with one JSON document only: no prose, no code fences."

# Refusals that pass: botocore's standard retry mode has already retried them with backoff.
THROTTLED_CODES = frozenset(
    {"ThrottlingException", "ServiceUnavailableException", "ServiceQuotaExceededException", "ModelNotReadyException"}
)
_TOO_LARGE = re.compile(r"size|too large|too long|too many|tokens|dimension|pixels", re.IGNORECASE)
_OUTPUT_SETTING = re.compile(r"max_?tokens|maximum tokens you requested", re.IGNORECASE)  # our setting, not input
_FENCED = re.compile(r"\s*```[\w-]*[ \t]*\n?(.*?)\n?[ \t]*```\s*", re.DOTALL)

logger = logging.getLogger(__name__)


class BedrockEngine:
    name = "bedrock"
    reads_pages_apart = False  # one call sees every image of a request together

    def __init__(
        self,
        *,
        model: str,
        client: Any | None = None,
        region: str | None = None,
        timeout_seconds: float = 60,
        max_image_side: int = 2048,
        max_output_tokens: int = 8192,
        max_attempts: int = 4,
    ) -> None:
        self.model = model
        self.max_image_side: int | None = max_image_side
        self.max_output_tokens = max_output_tokens
        self._side = min(max_image_side, MAX_IMAGE_SIDE)
        self._region = region
        self._timeout_seconds = timeout_seconds
        self._max_attempts = max(1, max_attempts)
        self._client: Any | None = client
        self._client_lock = threading.Lock()

    def _runtime(self) -> BedrockRuntimeClient:
        # Made once, under a lock: pages of a batch call this from several threads.
        with self._client_lock:
            if self._client is None:
                self._client = self._new_client()
            return cast("BedrockRuntimeClient", self._client)

    def _new_client(self) -> Any:
        # botocore's session makes the same client boto3.client would (boto3 wraps it), without importing boto3
        # into the engines (tests/unit/test_layering.py). No endpoint_url: botocore honours
        # AWS_ENDPOINT_URL_BEDROCK_RUNTIME, so a stand-in or a proxy can take Bedrock's place.
        import botocore.session
        from botocore.config import Config

        config = Config(
            read_timeout=self._timeout_seconds,
            connect_timeout=5,
            # total_max_attempts counts the first try; botocore's `max_attempts` key would count retries only.
            retries={"total_max_attempts": self._max_attempts, "mode": "standard"},
        )
        return botocore.session.get_session().create_client("bedrock-runtime", region_name=self._region, config=config)

    def token_hold(self, pages: int, prompt: str) -> int:
        from snapscribe.engines.prompt_template import find_json_template
        from snapscribe.engines.tokens import estimate_tokens

        system = max(estimate_tokens(text) for text in SYSTEM_INSTRUCTIONS.values()) + estimate_tokens(JSON_INSTRUCTION)
        try:
            template = find_json_template(prompt)
        except InvalidRequest:
            template = None
        tool = 0 if template is None else TOOL_PROMPT_TOKENS + estimate_tokens(json.dumps(answer_tool(template)[0]))
        image = math.ceil(self._side * self._side / PIXELS_PER_IMAGE_TOKEN)
        return system + tool + estimate_tokens(prompt) + image * pages + self.max_output_tokens

    def extract(self, request: ExtractionRequest) -> ExtractionResult:
        if len(request.images) > MAX_IMAGES:
            raise EngineInputTooLarge(
                f"Bedrock takes at most {MAX_IMAGES} images in one request; this one has {len(request.images)}"
            )
        content: list[ContentBlockTypeDef] = []
        for image in request.images:
            image_format, data = fit_image(image, max_side=self._side)
            content.append({"image": {"format": image_format, "source": {"bytes": data}}})
        if request.prompt.strip():  # Converse refuses a blank text block
            content.append({"text": request.prompt})
        system = SYSTEM_INSTRUCTIONS.get(request.scene, SYSTEM_INSTRUCTIONS["general"])
        call: ConverseRequestTypeDef = {
            "modelId": self.model,
            "messages": [{"role": "user", "content": content}],
            "inferenceConfig": {"maxTokens": request.max_output_tokens, "temperature": 0.0},
        }
        wrapped = False
        if request.json_mode and request.template is not None:
            # A forced tool call is Converse's structured output across model families: its input is the JSON.
            call["toolConfig"], wrapped = answer_tool(request.template)
        elif request.json_mode:
            system = f"{system} {JSON_INSTRUCTION}"
        call["system"] = [{"text": system}]
        client = self._runtime()
        try:
            response = client.converse(**call)
        except ClientError as error:
            raise self._refusal(error, client) from error
        except (ReadTimeoutError, ConnectTimeoutError) as error:
            raise EngineTimeout("the model did not answer in time") from error
        except NoCredentialsError as error:
            raise EngineUnavailable("Bedrock is not configured: this function has no AWS credentials") from error
        except BotoCoreError as error:
            raise EngineError(f"the call to Bedrock failed ({type(error).__name__})") from error
        usage = response.get("usage") or {}
        return ExtractionResult(
            text=self._answer(response, tool="toolConfig" in call, wrapped=wrapped, json_mode=request.json_mode),
            prompt_tokens=int(usage.get("inputTokens") or 0),
            completion_tokens=int(usage.get("outputTokens") or 0),
        )

    def _answer(self, response: Mapping[str, Any], *, tool: bool, wrapped: bool, json_mode: bool) -> str:
        message = (response.get("output") or {}).get("message") or {}
        blocks = message.get("content") or []
        stop = str(response.get("stopReason") or "")
        if stop == "model_context_window_exceeded":
            raise EngineInputTooLarge(f"the request is more than model {self.model} takes in its context window")
        for block in blocks if tool else ():
            use = block.get("toolUse")
            if use is None or use.get("name") != TOOL_NAME:
                continue
            if stop == "max_tokens":  # a cut tool call is an object missing its last fields: no answer
                raise EngineError("the model's answer was cut at the output token limit")
            value = use.get("input")
            if wrapped:
                value = value.get(WRAP_KEY) if isinstance(value, dict) else None
            return json.dumps(value, ensure_ascii=False)
        text = "".join(block.get("text") or "" for block in blocks)
        if not text.strip():
            if stop == "max_tokens":
                raise EngineError("the model's answer was cut at the output token limit before any text")
            raise EngineError(f"the model returned no text (stop reason {stop or 'none'})")
        return unfenced(text) if json_mode else text

    def _refusal(self, error: ClientError, client: Any) -> SnapscribeError:
        """Bedrock's refusal as our error. Its message is logged for the operator, never shown: it can name the
        account, the role and the request's content."""
        details = error.response.get("Error") or {}
        code = str(details.get("Code") or "")
        upstream = str(details.get("Message") or "")
        logger.warning("bedrock refused a converse call to %s: %s: %s", self.model, code, upstream[:300])
        region = getattr(getattr(client, "meta", None), "region_name", None) or self._region or "its region"
        if code in THROTTLED_CODES:
            return EngineThrottled(f"Bedrock is throttling or busy for model {self.model} ({code}); try again later")
        if code == "AccessDeniedException":
            return EngineUnavailable(
                f"Bedrock refused access to model {self.model} in {region}: the operator must enable model access "
                f"for it in the Bedrock console of {region} and allow bedrock:InvokeModel on its ARN"
            )
        if code == "ResourceNotFoundException":
            return EngineUnavailable(f"model {self.model} was not found in Bedrock in {region}")
        if code == "ValidationException" and _TOO_LARGE.search(upstream) and not _OUTPUT_SETTING.search(upstream):
            return EngineInputTooLarge(f"the request is more than model {self.model} takes (its size or length)")
        if code == "ValidationException":
            return EngineError(f"Bedrock refused the request to model {self.model} as invalid")
        if code == "ModelTimeoutException":
            return EngineTimeout("the model did not answer in time")
        return EngineError(f"Bedrock failed to answer ({code or 'unknown error'})")


def answer_tool(template: Any) -> tuple[ToolConfigurationTypeDef, bool]:
    """The tool whose forced call is the answer, and whether the template is wrapped in {WRAP_KEY: ...} (a
    tool's input schema must be an object)."""
    schema = response_schema(template) or {}
    wrapped = schema.get("type") != "object"
    if wrapped:
        schema = {"type": "object", "properties": {WRAP_KEY: schema}, "required": [WRAP_KEY]}
    spec: ToolSpecificationTypeDef = {
        "name": TOOL_NAME,
        "description": TOOL_DESCRIPTION,
        "inputSchema": {"json": schema},
    }
    return {"tools": [{"toolSpec": spec}], "toolChoice": {"tool": {"name": TOOL_NAME}}}, wrapped


def unfenced(text: str) -> str:
    """A JSON answer without the ``` fence a model may put around it."""
    match = _FENCED.fullmatch(text)
    return (match.group(1) if match else text).strip()


def fit_image(
    image: PreparedImage, *, max_side: int, max_bytes: int = MAX_IMAGE_BYTES
) -> tuple[ImageFormatType, bytes]:
    """The image as Converse takes it: its own bytes when their format is one Converse reads and they are within
    its limits; else decoded and re-encoded (PNG, or JPEG for photos and when PNG is too large), downscaled to
    `max_side` and further until the bytes fit."""
    known = CONVERSE_FORMATS.get(signature_format(image.data) or "")
    if known and len(image.data) <= max_bytes and max(image.width, image.height) <= max_side:
        return known, image.data
    pixels = _decoded(image)
    if max(pixels.size) > max_side:
        pixels.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    lossless = image.source_format not in LOSSY_SOURCES and known != "jpeg"
    while True:
        if lossless:
            data = _encoded(pixels, "PNG")
            if len(data) <= max_bytes:
                return "png", data
        data = _encoded(flatten_to_rgb(pixels), "JPEG")
        if len(data) <= max_bytes:
            return "jpeg", data
        # Each round shrinks the area by more than the bytes are over, so it ends (at worst on a tiny image).
        scale = math.sqrt(max_bytes / len(data)) * 0.9
        size = (max(1, int(pixels.width * scale)), max(1, int(pixels.height * scale)))
        pixels = pixels.resize(size, Image.Resampling.LANCZOS)
        lossless = False


def _decoded(image: PreparedImage) -> Image.Image:
    """The first frame's pixels, in a mode that resamples smoothly (a palette or 1-bit image would be resized
    by nearest neighbour, which breaks thin strokes of text)."""
    register_openers()  # HEIF
    try:
        with Image.open(io.BytesIO(image.data)) as opened:
            opened.load()
            pixels = opened.copy()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise EngineError(f"an image ({image.source_format}) could not be re-encoded for Bedrock") from error
    if pixels.mode == "P":
        return pixels.convert("RGBA" if "transparency" in pixels.info else "RGB")
    return pixels.convert("L") if pixels.mode == "1" else pixels


def _encoded(pixels: Image.Image, image_format: str) -> bytes:
    if image_format == "PNG" and pixels.mode not in ("1", "L", "LA", "RGB", "RGBA", "P", "I", "I;16"):
        pixels = pixels.convert("RGBA" if "A" in pixels.mode else "RGB")  # CMYK, YCbCr, F...
    buffer = io.BytesIO()
    pixels.save(buffer, format=image_format, **({"quality": 90} if image_format == "JPEG" else {}))
    return buffer.getvalue()
