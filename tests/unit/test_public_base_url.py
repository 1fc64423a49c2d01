"""SNAPSCRIBE_PUBLIC_BASE_URL, the URL the API is published at: optional (empty is unset, as the template's default
passes it), kept without its trailing slash, and a value that is no http(s) base URL stops the function at its start."""

from __future__ import annotations

import pytest

from snapscribe.config import MissingSetting, Settings, load_settings


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("", None),
        ("   ", None),
        ("https://api.example.com", "https://api.example.com"),
        ("https://api.example.com/", "https://api.example.com"),
        (" https://cdn.example/ocr/v2/ ", "https://cdn.example/ocr/v2"),
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
    ],
)
def test_a_published_base_url_is_kept_as_a_base(monkeypatch: pytest.MonkeyPatch, value: str, kept: str | None) -> None:
    monkeypatch.setenv("SNAPSCRIBE_PUBLIC_BASE_URL", value)
    assert load_settings(Settings).public_base_url == kept


def test_unset_it_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SNAPSCRIBE_PUBLIC_BASE_URL", raising=False)
    assert load_settings(Settings).public_base_url is None


@pytest.mark.parametrize(
    "value",
    [
        "api.example.com",
        "ftp://api.example.com",
        "https://",
        "https://user:pw@api.example.com",
        "https://a.example/?x=1",
    ],
)
def test_anything_else_stops_the_function_naming_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SNAPSCRIBE_PUBLIC_BASE_URL", value)
    with pytest.raises(MissingSetting, match="SNAPSCRIBE_PUBLIC_BASE_URL"):
        load_settings(Settings)
