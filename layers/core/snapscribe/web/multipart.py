"""multipart/form-data bodies, parsed in memory by the `multipart` library (no temporary files)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from multipart import MultipartError, MultipartParser, parse_options_header

from snapscribe.errors import InvalidRequest

MB = 1024 * 1024


@dataclass
class FormParts:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # name -> (filename, bytes)


def read_form(body: bytes, content_type: str, *, max_file_bytes: int, max_parts: int = 16) -> FormParts:
    """Text fields and files of a form; a part that is not a file is a text field. The limits keep
    everything in memory: a Lambda request is at most 6 MB."""
    media_type, options = parse_options_header(content_type or "")
    if media_type != "multipart/form-data" or not options.get("boundary"):
        raise InvalidRequest("The request must be multipart/form-data with a boundary")
    parts = FormParts()
    try:
        parser = MultipartParser(
            io.BytesIO(body),
            options["boundary"],
            content_length=len(body),
            part_limit=max_parts,
            spool_limit=max_file_bytes + MB,
            memory_limit=max_file_bytes + 2 * MB,
        )
        for part in parser:
            if part.filename is not None:
                parts.files[part.name] = (part.filename, part.raw)
            else:
                parts.fields[part.name] = part.value
            part.close()
    except MultipartError as error:
        raise InvalidRequest(f"The multipart body could not be parsed: {error}") from error
    return parts
