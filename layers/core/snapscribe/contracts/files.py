"""Seed 003: upload URLs (POST /api/files/upload-url) and OCR by key (POST /api/ocr/process)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

# What the upload flow accepts: every format the service reads, PDF included (its pages are rendered).
UPLOAD_CONTENT_TYPES: dict[str, str] = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/jpg": "JPEG",
    "image/webp": "WebP",
    "image/heic": "HEIC",
    "image/heif": "HEIF",
    "image/bmp": "BMP",
    "image/gif": "GIF",
    "image/tiff": "TIFF",
    "application/pdf": "PDF",
}


class UploadUrlRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    filename: StrictStr = Field(min_length=1)
    contentType: StrictStr = Field(min_length=1)
    size: StrictInt | None = None


class UploadUrlResponse(BaseModel):
    uuid: str
    key: str
    uploadUrl: str
    fields: dict[str, str]
    expiresAt: str
    maxBytes: int


class OcrProcessRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: StrictStr


class OcrProcessResponse(BaseModel):
    id: str
    text: str
    key: str
    fileUrl: str
    createdAt: str
    wordCount: int
    tokensUsed: int
    language: str
