"""The structured-extraction API: POST /v1/ocr/image/extract (multipart) -> content, usage, base_resp."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from snapscribe.contracts.fields import FieldSource
from snapscribe.errors import InvalidRequest, MissingField

# The contract's model id: the deployment's default engine.
DEFAULT_MODEL = "u1-ocr-extract"
Scene = Literal["general", "medical"]
SCENES: tuple[str, ...] = get_args(Scene)
ACCEPTED_FORMATS = {"JPEG": "JPG/JPEG", "PNG": "PNG", "BMP": "BMP"}  # Pillow's names -> the contract's
MAX_IMAGE_BYTES = 10 * 1024 * 1024

# base_resp.status_code, as the contract lists them.
SUCCESS = 0
MISSING_REQUIRED = 100001
INVALID_IMAGE_FORMAT = 261001
IMAGE_TOO_LARGE = 261002
IMAGE_CORRUPT = 261003
UPSTREAM_TIMEOUT = 261101
INTERNAL_ERROR = 261999
# The contract is silent on the account checks every route shares; these follow the same provider's
# general codes (authentication, rate limit, balance, conflict).
AUTHENTICATION_FAILED = 1004
RATE_LIMITED = 1002
INSUFFICIENT_BALANCE = 1008
CONFLICT = 1000
REQUEST_TIMEOUT = 1001  # too much work for a synchronous request: send it as a job


class StructuredExtractionForm(BaseModel):
    """The multipart form, as parsed: the operation's typed input, and the form the API documents."""

    model_config = ConfigDict(frozen=True)

    model: str = Field(description=f"The model: {DEFAULT_MODEL} (the deployment's default engine), local or gemini")
    scene: Scene = Field(default="general", description="What the image shows")
    prompt: str = Field(description="What to extract; a JSON template in it is filled and answered as JSON")
    image: bytes = Field(description="The image: JPG/JPEG, PNG or BMP, at most 10 MB")
    filename: SkipJsonSchema[str] = ""  # the image part's file name, not a field of the form

    @classmethod
    def from_parts(cls, fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> StructuredExtractionForm:
        """The form from its parts, or a typed error naming what is missing or wrong. A text field sent as a
        file (`curl -F prompt=@prompt.txt`) is read as text."""
        fields = {
            **{name: data.decode("utf-8", errors="replace") for name, (_filename, data) in files.items()},
            **fields,
        }
        for name in ("model", "prompt"):
            if not fields.get(name, "").strip():
                raise MissingField(f"Missing required field: {name}")
        if "image" not in files:
            raise MissingField("Missing required field: image")
        filename, image = files["image"]
        scene = (fields.get("scene") or "general").strip().lower()
        if scene not in SCENES:
            raise InvalidRequest(f"Invalid scene {scene!r}: use general or medical")
        return cls.model_validate(
            {
                "model": fields["model"].strip(),
                "scene": scene,
                "prompt": fields["prompt"],
                "image": image,
                "filename": filename,
            }
        )


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class BaseResp(BaseModel):
    status_code: int
    status_msg: str


class StructuredExtractionResponse(BaseModel):
    content: str
    usage: Usage
    base_resp: BaseResp
    # Each filled field's value, confidence (0-1), page and box [x0, y0, x1, y1] by JSON pointer, only when asked
    # (?fields=true): the contract's body is otherwise exactly as specified. An engine that cannot tell (a language
    # model) answers {}.
    fields: dict[str, FieldSource] | None = Field(default=None, exclude_if=lambda value: value is None)


def error_body(status_code: int, message: str) -> dict[str, object]:
    """An error answer: the same shape as success, with empty content and no usage."""
    return StructuredExtractionResponse(
        content="",
        usage=Usage(prompt_tokens=0, completion_tokens=0, total_tokens=0),
        base_resp=BaseResp(status_code=status_code, status_msg=message),
    ).model_dump()
