"""The settings every function shares: limits, prices, timeouts and engines, with the product's defaults. Each
function's own model (function_settings.py) adds the resources it uses, which have no default: a function
without one is refused at its start, naming the variable."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MB = 1024 * 1024
SettingsT = TypeVar("SettingsT", bound="Settings")


class Settings(BaseSettings):
    # defer_build: a model is built when first read, so defining every function's costs none of them a cold start.
    model_config = SettingsConfigDict(env_prefix="SNAPSCRIBE_", extra="ignore", defer_build=True)
    # A function that runs engines: its list of offered engines is checked at its start (services.composition).
    runs_engines: ClassVar[bool] = False

    # Resources (template.yaml passes their names in; the local stack uses the same variables). None here: each
    # function's model (function_settings.py) requires the ones it uses.
    accounts_table: str | None = None
    idempotency_table: str | None = None
    bucket_name: str | None = None
    jobs_table: str | None = None
    work_queue_url: str | None = None
    work_dead_letter_queue: str | None = None  # its name: the worker tells its messages apart
    webhook_queue_url: str | None = None

    # Jobs
    job_max_seconds: int = Field(default=6 * 3600, ge=60)  # items not done by then are failed by the reaper
    job_retention_days: int = Field(default=30, ge=1)  # finished jobs are kept this long
    worker_timeout_seconds: int = Field(default=300, ge=1)  # the worker function's Timeout
    job_result_url_expiry_seconds: int = Field(default=3600, ge=60, le=43200)
    # Items of a job this small go on the queue at admission; a larger job's are sent by a worker (one
    # message to admit), so admitting 3000 images takes as long as one.
    job_direct_items: int = Field(default=100, ge=0)
    job_result_inline_bytes: int = Field(default=300_000, ge=0, le=350_000)  # larger results go to the bucket

    # Engines: the default for extract-image/ocr-image-extract, and for ocr/process/image-extraction
    # (separate settings, since locally every function shares one process and one environment).
    engine: str = "local"
    ocr_engine: str = "local"
    # The engines a request may name (engines/catalog.py: comma-separated ids, each with an optional price);
    # the two defaults above and the local engine are always offered.
    engines: str = ""
    # An OpenAI-compatible server (vLLM, Ollama, LiteLLM, a hosted provider): the operator's, never a request's.
    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = None  # tests and `make run`; a deployment names an SSM SecureString
    openai_api_key_parameter: str | None = None
    openai_timeout_seconds: float = Field(default=60.0, gt=0)
    gemini_model: str = "gemini-2.5-flash"
    gemini_api_key: SecretStr | None = None
    gemini_api_key_parameter: str | None = None  # SSM SecureString name, read on first use
    gemini_base_url: str | None = None  # only tests point the SDK at a loopback stub
    gemini_timeout_seconds: float = Field(default=60.0, gt=0)
    # Tesseract's language models (the local engine's reader of Arabic, Cyrillic, Devanagari, ... scripts). Unset:
    # the folder the OCR image carries, else the one `make` installs into the virtualenv; none there: Latin/CJK only.
    tessdata_dir: str | None = None
    # Images beyond this many bytes in one call go through the Files API (a request is at most 20 MB, base64).
    gemini_inline_bytes: int = Field(default=14 * 1024 * 1024, gt=0)
    llm_max_image_side: int = Field(default=2048, ge=256)

    # Accounts (a new key's credits and rate limit are the admin CLI's, read from the deployed stack)
    idempotency_expiry_seconds: int = Field(default=3600, ge=60)
    # A hold its invocation never settled (stopped at its timeout) is refunded this long after that end.
    hold_grace_seconds: int = Field(default=60, ge=0)

    # Image limits (the extract-image API)
    max_image_bytes: int = 20 * MB
    max_total_bytes: int = 100 * MB
    max_images: int = 3000
    max_output_tokens: int = 8192
    max_image_pixels: int = Field(default=80_000_000, ge=1_000_000)  # decompression-bomb guard

    # Uploads (the file-upload API): presigned POST into the private bucket, then OCR by key
    max_upload_bytes: int = 50 * MB
    upload_url_expiry_seconds: int = Field(default=300, ge=60, le=3600)
    file_url_expiry_seconds: int = Field(default=900, ge=60, le=43200)
    upload_retention_days: int = Field(default=7, ge=1)
    tmp_max_age_seconds: int = Field(default=900, ge=0)  # no request outlives this
    max_pages_per_file: int = Field(default=100, ge=1)
    extraction_credits_per_page: int = Field(
        default=200, ge=0
    )  # the batch-extraction contract's example: 200 for one page

    # URL inputs
    allow_loopback_urls: bool = False  # tests only; never on in a deployment or under `make run`
    url_connect_timeout: float = 5.0
    url_read_timeout: float = 10.0
    url_total_timeout: float = 30.0
    url_max_redirects: int = 3

    # Synchronous requests refuse work they cannot finish in time (the estimate is measured per item).
    sync_margin_seconds: float = Field(default=3.0, ge=0)  # kept free for settling and answering
    # RapidOCR, one dense A4 page rendered at 200 dpi (40 such pages took 100 s); receipts take about 0.6 s.
    local_seconds_per_page: float = Field(default=2.5, gt=0)
    model_seconds_per_call: float = Field(default=8.0, gt=0)  # a Gemini call: images up, answer back
    model_seconds_per_image: float = Field(default=0.5, ge=0)  # uploading one more image to the model
    url_fetches_in_parallel: int = Field(default=8, ge=1)
    url_seconds_per_fetch: float = Field(default=1.0, gt=0)  # a typical image download

    tmp_dir: Path | None = None  # None: the platform's temporary directory

    # The URL the API is published at (a custom domain, a CDN in front: "https://api.example.com", with a base path if
    # it has one), which a job's statusUrl and the OpenAPI document's server name. Unset or empty: the gateway's own
    # domain and stage, from the event's requestContext. Never the client's Host or X-Forwarded-* headers.
    public_base_url: str | None = None

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Powertools' own switch (its name, not ours): X-Ray tracing off, and its SDK never imported.
    trace_disabled: bool = Field(default=False, validation_alias="POWERTOOLS_TRACE_DISABLED")

    @field_validator("public_base_url", mode="before")
    @classmethod
    def _public_base_url(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            return value
        url = value.strip().rstrip("/")
        parts = urlsplit(url)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.username
            or parts.query
            or parts.fragment
        ):
            raise ValueError("must be an http(s) URL with a host and no credentials, query or fragment")
        return url

    def resource(self, field: str) -> str:
        """A resource this code path uses: a clear error, naming the variable, where the function lacks it (its
        settings model should have required it)."""
        value = getattr(self, field)
        if not value:
            raise MissingSetting(f"{variable(field)} is not set: {type(self).__name__} does not require it")
        return str(value)


class MissingSetting(RuntimeError):
    """A function was started without a value it needs (or with one that is not valid)."""


def variable(field: str) -> str:
    return f"SNAPSCRIBE_{field.upper()}"


def load_settings(model: type[SettingsT]) -> SettingsT:
    """The function's settings from the environment, or MissingSetting naming every variable that is missing or
    invalid (at the function's start, not at its first request)."""
    try:
        return model()
    except ValidationError as error:
        problems = []
        for problem in error.errors():
            name = str(problem["loc"][0]) if problem["loc"] else "?"
            shown = name if name.isupper() else variable(name)
            problems.append(f"{shown} ({'not set' if problem['type'] == 'missing' else problem['msg']})")
        raise MissingSetting(f"{model.__name__} cannot start: " + "; ".join(problems)) from None
