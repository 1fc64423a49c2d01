"""The OCR-by-key API: POST /api/ocr/process ({key} of an upload -> its text), GET /api/ocr/results/{id}."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, StrictStr


class OcrByKeyRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: StrictStr


class OcrByKeyResponse(BaseModel):
    id: str
    text: str
    key: str
    fileUrl: str
    createdAt: str
    wordCount: int
    tokensUsed: int
    language: str
