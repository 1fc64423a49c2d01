"""In-memory fakes of the ports the operations depend on, one module per port, each held to its adapter by a
contract suite in tests/contracts/ (the same tests run against the fake and against the adapter on moto), and
small builders for callers, funded accounts, uploads and images. No moto, no boto3, no sockets, no OCR model.

Everything is re-exported here: tests import `from tests.fakes import ...`."""

from tests.fakes.accounts import FakeAccountStore
from tests.fakes.builders import (
    MB,
    Account,
    ErrorT,
    Uploads,
    b64,
    files_in,
    funded_account,
    image_bytes,
    make_caller,
    make_settings,
    raised,
    refused_free,
    tiff_pages,
)
from tests.fakes.clock import NOW, Clock
from tests.fakes.engines import (
    COMPLETION_TOKENS,
    PROMPT_TOKENS,
    FakeEngine,
    Scripted,
    answer,
    engine_picker,
    no_engine,
)
from tests.fakes.jobs import FakeJobStore
from tests.fakes.metering import RecordingMeter, emf_blobs, emf_records
from tests.fakes.objects import FAKE_BUCKET_URL, FakeObjectStore
from tests.fakes.queues import FakeQueue
from tests.fakes.uploads import FakeUploadStore

__all__ = [
    "COMPLETION_TOKENS",
    "FAKE_BUCKET_URL",
    "MB",
    "NOW",
    "PROMPT_TOKENS",
    "Account",
    "Clock",
    "ErrorT",
    "FakeAccountStore",
    "FakeEngine",
    "FakeJobStore",
    "FakeObjectStore",
    "FakeQueue",
    "FakeUploadStore",
    "RecordingMeter",
    "Scripted",
    "Uploads",
    "answer",
    "b64",
    "emf_blobs",
    "emf_records",
    "engine_picker",
    "files_in",
    "funded_account",
    "image_bytes",
    "make_caller",
    "make_settings",
    "no_engine",
    "raised",
    "refused_free",
    "tiff_pages",
]
