"""Seed 002: POST /v1/ocr/image/extract (multipart) -> content, usage, base_resp."""

from __future__ import annotations

from pydantic import BaseModel

# The seed's model id: the deployment's default engine.
DEFAULT_MODEL = "u1-ocr-extract"
SCENES = ("general", "medical")
ACCEPTED_FORMATS = {"JPEG": "JPG/JPEG", "PNG": "PNG", "BMP": "BMP"}  # Pillow's names -> the seed's
MAX_IMAGE_BYTES = 10 * 1024 * 1024

# base_resp.status_code, as the seed lists them.
SUCCESS = 0
MISSING_REQUIRED = 100001
INVALID_IMAGE_FORMAT = 261001
IMAGE_TOO_LARGE = 261002
IMAGE_CORRUPT = 261003
UPSTREAM_TIMEOUT = 261101
INTERNAL_ERROR = 261999
# The seed is silent on the account checks every route shares; these follow the same provider's
# general codes (authentication, rate limit, balance, conflict).
AUTHENTICATION_FAILED = 1004
RATE_LIMITED = 1002
INSUFFICIENT_BALANCE = 1008
CONFLICT = 1000


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class BaseResp(BaseModel):
    status_code: int
    status_msg: str


class OcrExtractResponse(BaseModel):
    content: str
    usage: Usage
    base_resp: BaseResp


def error_body(status_code: int, message: str) -> dict[str, object]:
    """An error answer: the same shape as success, with empty content and no usage."""
    return OcrExtractResponse(
        content="",
        usage=Usage(prompt_tokens=0, completion_tokens=0, total_tokens=0),
        base_resp=BaseResp(status_code=status_code, status_msg=message),
    ).model_dump()
