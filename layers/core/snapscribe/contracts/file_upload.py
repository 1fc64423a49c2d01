"""The file-upload API: POST /api/files/upload-url (a presigned POST), DELETE /api/files/{uuid}."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StrictInt, StrictStr

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


_CONTENT_TYPE_ENUM: list[JsonValue] = [*sorted(UPLOAD_CONTENT_TYPES)]


class UploadUrlRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    filename: StrictStr = Field(min_length=1)
    # The accepted types are documented (the schema's enum); the operation refuses others with a message listing them.
    contentType: StrictStr = Field(min_length=1, json_schema_extra={"enum": _CONTENT_TYPE_ENUM})
    size: StrictInt | None = None


class UploadUrlResponse(BaseModel):
    uuid: str
    key: str
    uploadUrl: str
    fields: dict[str, str]
    expiresAt: str
    maxBytes: int


class DeletedUpload(BaseModel):
    uuid: str
    key: str
    deleted: bool
