"""The dependency rules docs/architecture.md states, checked on the source: operations know nothing of HTTP
or AWS SDKs, and domain code reaches AWS only through adapters."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "layers" / "core" / "snapscribe"


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).glob("*.py"))


def _breaks(imported: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(name for name in imported if any(name == f or name.startswith(f + ".") for f in forbidden))


@pytest.mark.parametrize("path", _modules("operations"), ids=lambda path: path.name)
def test_operations_know_nothing_of_http_or_aws_sdks(path: Path) -> None:
    forbidden = ("snapscribe.web", "snapscribe.routes", "snapscribe.services", "boto3", "botocore")
    forbidden += ("aws_lambda_powertools.event_handler", "aws_lambda_powertools.utilities.data_classes")
    assert not _breaks(imports_of(path), forbidden), path.name


@pytest.mark.parametrize("folder", ["operations", "contracts", "engines", "images", "accounts", "storage"], ids=str)
def test_only_adapters_and_the_composition_root_import_boto3(folder: str) -> None:
    adapters = {"accounts/dynamodb.py", "storage/dynamodb.py", "storage/s3.py"}
    for path in _modules(folder):
        if f"{folder}/{path.name}" in adapters:
            continue
        assert not _breaks(imports_of(path), ("boto3",)), path.name


def test_the_checks_see_an_import_when_there_is_one(tmp_path: Path) -> None:
    """The rules above must be able to fail."""
    module = tmp_path / "bad.py"
    module.write_text("from snapscribe.web.requests import caller\nimport boto3\n")
    assert _breaks(imports_of(module), ("snapscribe.web", "boto3")) == [
        "boto3",
        "snapscribe.web.requests",
        "snapscribe.web.requests.caller",
    ]
