"""A client generated from the document the local stack serves (openapi-python-client, as a user would make one)
calls every route and reads every answer into its generated models: upload URL -> the upload -> OCR by key, now
and as a job -> the job, its list, a cancel -> the kept result; batch extraction (POST and GET) -> the kept
extraction; extract-image; structured extraction (multipart); the account; delete; the document and its page."""

from __future__ import annotations

import base64
import importlib
import io
import subprocess
import sys
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.conftest import PROJECT_ROOT
from tests.e2e.stack_process import StackProcess

pytestmark = pytest.mark.e2e
GENERATOR = str(PROJECT_ROOT / ".venv" / "bin" / "openapi-python-client")
SAMPLE = (PROJECT_ROOT / "samples" / "invoice.png").read_bytes()
PACKAGE = "snapscribe_generated_client"


@pytest.fixture(scope="module")
def generated(stack: StackProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    folder = tmp_path_factory.mktemp("client")
    document = folder / "openapi.json"
    document.write_bytes(httpx.get(f"{stack.url}/openapi.json").content)
    run = subprocess.run(
        [GENERATOR, "generate", "--path", str(document), "--meta", "none", "--output-path", str(folder / PACKAGE)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Unable to" not in run.stdout + run.stderr, run.stdout + run.stderr  # no route left out
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.startswith(PACKAGE)]:
            del sys.modules[name]


def _api(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.api.{name}")


def _models() -> Any:
    return importlib.import_module(f"{PACKAGE}.models")


def _parsed(response: Any, status: int) -> Any:
    assert response.status_code == status, response.content[:500]
    assert response.parsed is not None  # read into the generated model of that status
    return response.parsed


def _uploaded(client: Any) -> Any:
    models = _models()
    answer = _parsed(
        _api("file_upload.create_upload_url").sync_detailed(
            client=client,
            body=models.UploadUrlRequest(
                filename="invoice.png", content_type=models.UploadUrlRequestContenttype("image/png")
            ),
        ),
        200,
    )
    fields = answer.fields.to_dict()
    posted = httpx.post(answer.upload_url, data=fields, files={"file": ("invoice.png", SAMPLE, "image/png")})
    assert posted.status_code < 300, posted.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until the upload trigger has checked it (409 before)
        done = _api("ocr_by_key.ocr_by_key").sync_detailed(client=client, body=models.OcrByKeyRequest(key=answer.key))
        if done.status_code != 409:
            return answer, _parsed(done, 200)
        time.sleep(0.3)
    raise AssertionError("the upload was never checked")


def test_a_generated_client_calls_every_route(stack: StackProcess, generated: ModuleType) -> None:
    models = _models()
    called: set[str] = set()
    public = generated.Client(base_url=stack.url, raise_on_unexpected_status=True)
    client = generated.AuthenticatedClient(base_url=stack.url, token=stack.api_key, raise_on_unexpected_status=True)

    def call(operation: str, status: int, **arguments: Any) -> Any:
        module = _api(operation)
        called.add(operation.rsplit(".", 1)[1])
        return _parsed(module.sync_detailed(client=arguments.pop("via", client), **arguments), status)

    assert call("docs.get_openapi", 200, via=public).to_dict()["openapi"] == "3.1.0"
    call("docs.get_api_docs", 200, via=public)
    assert call("extract_image.list_image_formats", 200).supported_formats
    balance = call("account.get_account", 200).balance

    # Upload, then OCR by key (the first answer of the route, once the upload was checked), its kept result.
    upload, result = _uploaded(client)
    called.update({"create_upload_url", "ocr_by_key"})
    assert "Invoice" in result.text
    assert call("ocr_by_key.get_ocr_result", 200, id=result.id).text == result.text

    # The same as a job: 202, then the job to its end; the list; a cancel of a finished job is refused.
    accepted = call("ocr_by_key.ocr_by_key", 202, body=models.OcrByKeyRequest(key=upload.key), prefer="respond-async")
    deadline = time.monotonic() + 120
    while (job := call("jobs.get_job", 200, job_id=accepted.job_id)).status not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
    assert job.status == "succeeded"
    assert job.result_status == 200
    assert accepted.job_id in {listed.job_id for listed in call("jobs.list_jobs", 200, limit=10).jobs}
    assert call("jobs.cancel_job", 409, job_id=accepted.job_id).error

    # Batch extraction of the upload, by POST and by GET with a body; the kept extraction.
    request = models.BatchExtractionRequest(
        engine=models.EngineSpec(name="local"), files=[models.FileIdentifier(uuid=upload.uuid)]
    )
    extraction = call("batch_extraction.extract_batch", 201, body=request).data
    assert extraction.total_file_pages == 1
    assert call("batch_extraction.extract_batch_by_get", 201, body=request).data.status == "processed"
    assert call("batch_extraction.get_batch_extraction", 200, uuid=extraction.uuid).data.uuid == extraction.uuid

    # extract-image by base64, and structured extraction as a multipart form with ?fields=true.
    image = base64.b64encode(SAMPLE).decode()
    body = models.ExtractImageRequest(
        input_method=models.ExtractImageRequestInputmethod("base64"), images=[image], prompt="Read the invoice number"
    )
    assert "INV" in call("extract_image.extract_image", 200, body=body).results
    form = models.StructuredExtractionForm(
        model="u1-ocr-extract",
        prompt='Extract with this schema: {"invoice_no": "", "total": ""}',
        image=generated.types.File(payload=io.BytesIO(SAMPLE), file_name="invoice.png", mime_type="image/png"),
    )
    structured = call(
        "structured_extraction.extract_structured", 200, body=form, fields=models.ExtractStructuredFields("true")
    )
    assert structured.base_resp.status_code == 0
    assert "/invoice_no" in structured.fields.to_dict()

    assert call("file_upload.delete_upload", 200, uuid=upload.uuid).deleted
    assert call("account.get_account", 200).balance < balance

    document = httpx.get(f"{stack.url}/openapi.json").json()
    operations = {operation["operationId"] for item in document["paths"].values() for operation in item.values()}
    assert called == operations
