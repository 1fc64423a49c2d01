"""The scheduled sweep against an in-memory object store: only tmp/ objects older than any request deleted."""

from __future__ import annotations

from pathlib import Path

from snapscribe.operations.housekeeping import sweep_temporary_objects
from tests.fakes import FakeObjectStore, make_settings


def test_the_sweep_deletes_only_stale_temporary_objects(tmp_path: Path) -> None:
    objects = FakeObjectStore()
    ages = {
        "tmp/request-1/page-1.png": 901,  # stale
        "tmp/request-2/page-1.png": 5000,  # stale
        "tmp/request-3/page-1.png": 899,  # a request may still be using it
        "ocr/alice/old.png": 10**6,  # uploads live by their own retention
        "results/alice/old.json": 10**6,
        "tmpfile/old.png": 10**6,  # not under tmp/
    }
    for key, age in ages.items():
        objects.put(key, b"x", age_seconds=age)
    settings = make_settings(tmp_path / "work", tmp_max_age_seconds=900)
    assert sweep_temporary_objects(objects=objects, settings=settings) == 2
    assert sorted(objects.deleted) == ["tmp/request-1/page-1.png", "tmp/request-2/page-1.png"]
    assert set(objects.objects) == set(ages) - set(objects.deleted)


def test_an_empty_sweep_deletes_nothing(tmp_path: Path) -> None:
    objects = FakeObjectStore()
    objects.put("tmp/request-1/page-1.png", b"x", age_seconds=10)
    assert sweep_temporary_objects(objects=objects, settings=make_settings(tmp_path / "work")) == 0
    assert objects.deleted == []
