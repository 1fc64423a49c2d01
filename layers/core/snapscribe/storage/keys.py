"""Object keys: `ocr/<user_id>/<uuid>-<filename>` for uploads, built and parsed in one place."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from snapscribe.errors import InvalidFileKey, InvalidRequest

UPLOAD_PREFIX = "ocr/"
TMP_PREFIX = "tmp/"
RESULTS_PREFIX = "results/"
JOBS_PREFIX = "jobs/"
MAX_FILENAME = 200

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_KEY = re.compile(r"^ocr/(?P<user>[A-Za-z0-9_-]{1,64})/(?P<name>[A-Za-z0-9 ._()-]{1,250})$")
_ISSUED_NAME = re.compile(rf"^(?P<uuid>{_UUID})-(?P<filename>.+)$")
# Kept as the client wrote them: letters, digits, spaces and . _ ( ) -; anything else becomes "_".
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9 ._()-]+")


@dataclass(frozen=True)
class UploadKey:
    user_id: str
    name: str
    upload_id: str | None  # the uuid of an upload this service issued, if the name carries one

    @property
    def key(self) -> str:
        return f"{UPLOAD_PREFIX}{self.user_id}/{self.name}"


def sanitise_filename(filename: str) -> str:
    """A safe object name for a client's file name; refuses names that try to be paths."""
    name = unicodedata.normalize("NFKC", filename).strip()
    if not name:
        raise InvalidRequest("filename must not be empty")
    if len(name) > MAX_FILENAME:
        raise InvalidRequest(f"filename must be at most {MAX_FILENAME} characters")
    if any(unicodedata.category(char) == "Cc" for char in name):
        raise InvalidRequest("filename must not contain control characters")
    if "/" in name or "\\" in name or ".." in name or name.startswith("."):
        raise InvalidRequest("filename must be a plain file name, not a path")
    # Accents go (résumé -> resume) before anything outside the safe alphabet becomes "_".
    plain = "".join(char for char in unicodedata.normalize("NFKD", name) if unicodedata.category(char) != "Mn")
    safe = " ".join(_UNSAFE_CHARS.sub("_", plain).split()).strip("_ ")
    return f"file{safe}" if not safe or safe.startswith(".") else safe


def upload_key(user_id: str, upload_id: str, safe_filename: str) -> str:
    return f"{UPLOAD_PREFIX}{user_id}/{upload_id}-{safe_filename}"


def parse_upload_key(key: object) -> UploadKey:
    """`ocr/<user_id>/<name>` with safe characters only; anything else is InvalidFileKey."""
    if not isinstance(key, str) or ".." in key or "//" in key:
        raise InvalidFileKey()
    match = _KEY.match(key)
    if not match:
        raise InvalidFileKey()
    issued = _ISSUED_NAME.match(match["name"])
    return UploadKey(user_id=match["user"], name=match["name"], upload_id=issued["uuid"] if issued else None)
