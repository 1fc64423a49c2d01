"""The batch-extraction API: POST (or GET with a body) /v1/image-extraction, GET /v1/image-extraction/{uuid}."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator

MAX_FILES = 5


class EngineSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: StrictStr = Field(min_length=1)
    options: dict[str, Any] = Field(default_factory=dict)


class FileIdentifier(BaseModel):
    model_config = ConfigDict(extra="ignore")

    uuid: StrictStr | None = None
    key: StrictStr | None = None

    @model_validator(mode="after")
    def exactly_one(self) -> FileIdentifier:
        if (self.uuid is None) == (self.key is None):
            raise ValueError("a file is identified by exactly one of uuid or key")
        return self


class BatchExtractionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    engine: EngineSpec
    files: list[FileIdentifier] = Field(min_length=1)


class PageResult(BaseModel):
    number: int
    status: str  # processed | failed
    text: str
    error: str | None = None  # why a failed page failed (the contract's fields, plus this one)


class FileResult(BaseModel):
    uuid: str
    pages: list[PageResult]


class ProcessedExtraction(BaseModel):
    uuid: str
    status: str  # processed | partially_processed | failed
    file_type: str
    engine: str
    language: str
    total_files: int
    total_file_pages: int
    total_processing_pages: int
    initial_cost: int
    failed_pages: int
    returned_credits: int
    files: list[FileResult]


class BatchExtractionAnswer(BaseModel):
    """What the API answers: the extraction under `data`, as its contract shows."""

    data: ProcessedExtraction
