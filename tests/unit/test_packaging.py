"""pyproject.toml installs every package of the tree: a package missing from what setuptools finds is missing from
an install that is not editable (the client's, say). Its licence is the LICENSE file's."""

from __future__ import annotations

import warnings
from typing import Any

from setuptools.config.pyprojecttoml import read_configuration

from tests.conftest import PROJECT_ROOT


def _configuration() -> dict[str, Any]:
    """pyproject.toml as setuptools reads it for a build: packages found, their folders filled in."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # [tool.setuptools] is "beta" to setuptools
        return read_configuration(PROJECT_ROOT / "pyproject.toml", expand=True)


def test_pyproject_finds_every_package() -> None:
    settings = _configuration()["tool"]["setuptools"]
    found = set()
    for package, folder in {
        "snapscribe": "layers/core/snapscribe",
        "snapscribe_tools": "tools/snapscribe_tools",
    }.items():
        root = PROJECT_ROOT / folder
        found |= {".".join([package, *init.parent.relative_to(root).parts]) for init in root.rglob("__init__.py")}
    assert {"snapscribe.jobs", "snapscribe.web.openapi"} <= found
    assert set(settings["packages"]) == found
    assert settings["package-dir"] == {
        "snapscribe": "layers/core/snapscribe",
        "snapscribe_tools": "tools/snapscribe_tools",
    }


def test_the_declared_licence_is_the_license_file() -> None:
    assert _configuration()["project"]["license"] == {"text": "Apache-2.0"}
    text = (PROJECT_ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text  # the whole text, not a notice
