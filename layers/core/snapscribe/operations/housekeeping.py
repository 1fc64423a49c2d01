"""Scheduled housekeeping: delete what no request can still be using."""

from __future__ import annotations

from snapscribe.config import Settings
from snapscribe.storage.keys import TMP_PREFIX
from snapscribe.storage.uploads import ObjectStore


def sweep_temporary_objects(*, objects: ObjectStore, settings: Settings) -> int:
    """Delete tmp/ objects older than any request can run (the bucket's lifecycle rule is the backstop)."""
    stale = objects.keys_older_than(TMP_PREFIX, settings.tmp_max_age_seconds)
    for key in stale:
        objects.delete(key)
    return len(stale)
