"""The error bodies the {"error": ...} APIs answer (the structured-extraction API answers its own shape, with
base_resp)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ErrorMessage(BaseModel):
    error: str  # what was wrong, for a person to read; never the details of an internal failure


class EmptyBody(BaseModel):
    """The batch-extraction API's 404: an empty object, as its contract shows."""

    model_config = ConfigDict(extra="forbid")
