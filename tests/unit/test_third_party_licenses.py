"""THIRD_PARTY_LICENSES.md is current, and every package the layer and the image ship has a known licence that is
not GPL or AGPL without an exception. How a licence is read from metadata, and judged, on distributions made here."""

from __future__ import annotations

import importlib.metadata as metadata
from pathlib import Path

import pytest
from packaging.licenses import canonicalize_license_expression

from snapscribe_tools import licenses
from snapscribe_tools.licenses import Shipped, bundled_libraries, licence_of, verdict


@pytest.fixture(scope="module")
def shipped() -> list[Shipped]:
    return licenses.shipped()


def test_the_committed_file_is_current(shipped: list[Shipped]) -> None:
    assert licenses.OUTPUT.read_text(encoding="utf-8") == licenses.render(shipped), (
        "THIRD_PARTY_LICENSES.md is stale: .venv/bin/python -m snapscribe_tools.licenses writes it anew"
    )


def test_every_shipped_package_has_a_known_licence(shipped: list[Shipped]) -> None:
    unknown = {package.name: package.source for package in shipped if package.verdict == "unknown"}
    assert unknown == {}


def test_no_shipped_package_is_under_a_forbidden_licence(shipped: list[Shipped]) -> None:
    """Fails today, on purpose: pillow-heif's wheels bundle x265 and tesserocr's JBIG-KIT, both GPL-2.0-or-later
    (the arm64 wheels as well as this machine's). A GPL library in the layer and the image is not ours to ship
    under Apache-2.0: the fix is another package or a build without them, not an entry in a table."""
    forbidden = {
        package.name: [library for library, licence in package.libraries if verdict(licence) == "forbidden"]
        for package in shipped
        if package.verdict == "forbidden"
    }
    assert forbidden == {}


def test_what_ships_is_the_layer_and_the_image_requirements(shipped: list[Shipped]) -> None:
    by_name = {package.name: package for package in shipped}
    assert licenses.requirement_files() == {
        "layer": ["layers/core/requirements.txt"],
        "image": ["layers/core/requirements.txt", "requirements/ocr.txt"],
    }
    assert by_name["pydantic"].where == ("layer", "image")
    assert by_name["pydantic"].version == metadata.version("pydantic")  # the pin, and installed here
    assert by_name["rapidocr"].where == ("image",)
    assert by_name["aws-xray-sdk"].where == ("layer", "image")  # through aws-lambda-powertools[tracer]
    assert "boto3" not in by_name  # the Lambda runtime's, not the layer's
    assert not {"moto", "pytest", "ruff"} & set(by_name)  # the developer environment's


def test_the_tables_are_spdx_expressions() -> None:
    expressions = [*licenses.LIBRARIES.values(), *(licence for licence, _ in licenses.CORRECTIONS.values())]
    assert [str(canonicalize_license_expression(e)) for e in expressions] == expressions


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("MIT", "allowed"),
        ("(Apache-2.0 OR BSD-3-Clause) AND BSD-3-Clause", "allowed"),
        ("FTL OR GPL-2.0-or-later", "allowed"),  # dual: the permissive side is taken
        ("GPL-3.0-or-later WITH GCC-exception-3.1", "allowed"),
        ("LGPL-3.0-or-later", "allowed"),
        ("MIT AND GPL-2.0-or-later", "forbidden"),
        ("AGPL-3.0-only", "forbidden"),
        ("GPL-2.0-only WITH LicenseRef-some-exception", "forbidden"),
        ("LicenseRef-Proprietary", "unknown"),
        ("MIT AND LicenseRef-Proprietary", "unknown"),
        ("", "unknown"),
    ],
)
def test_a_licence_is_judged_by_its_expression(expression: str, expected: str) -> None:
    assert verdict(expression) == expected


def _distribution(folder: Path, name: str, headers: list[str], files: tuple[str, ...] = ()) -> metadata.Distribution:
    info = folder / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("\n".join(["Metadata-Version: 2.4", f"Name: {name}", "Version: 1.0", *headers]))
    (info / "RECORD").write_text("".join(f"{file},,\n" for file in files))
    return metadata.PathDistribution(info)


def test_the_licence_is_read_from_expression_field_or_one_classifier(tmp_path: Path) -> None:
    expression = _distribution(tmp_path, "a", ["License-Expression: mit or apache-2.0", "License: whatever"])
    assert licence_of(expression) == ("MIT OR Apache-2.0", "License-Expression")
    aliased = _distribution(tmp_path, "b", ["License: Apache License, Version 2.0"])
    assert licence_of(aliased) == ("Apache-2.0", "License field")
    classified = _distribution(tmp_path, "c", ["Classifier: License :: OSI Approved :: MIT License"])
    assert licence_of(classified) == ("MIT", "classifier")


def test_vague_or_contradictory_metadata_is_unknown(tmp_path: Path) -> None:
    vague = _distribution(tmp_path, "a", ["License: BSD", "Classifier: License :: OSI Approved :: BSD License"])
    contradictory = _distribution(
        tmp_path, "b", ["License: MIT", "Classifier: License :: OSI Approved :: Apache Software License"]
    )
    whole_text = _distribution(tmp_path, "c", ["License: Permission is hereby granted, free of charge, to any"])
    for distribution in (vague, contradictory, whole_text):
        licence, why = licence_of(distribution)
        assert licence == ""
        assert why


def test_a_bundled_library_counts_and_an_unlisted_one_is_unknown(tmp_path: Path) -> None:
    wheel = _distribution(
        tmp_path, "heifish", ["License: BSD-3-Clause"], ("heifish.libs/libx265-4883ecb5.so.217", "heifish/x.py")
    )
    assert bundled_libraries(wheel) == (("libx265", "GPL-2.0-or-later"),)
    judged = Shipped("heifish", "1.0", ("layer",), "BSD-3-Clause", "License field", bundled_libraries(wheel), ())
    assert judged.verdict == "forbidden"
    odd = _distribution(tmp_path, "odd", ["License: MIT"], ("odd.libs/libsomething-0123abcd.so.1.2",))
    assert bundled_libraries(odd) == (("libsomething", ""),)
    assert Shipped("odd", "", ("image",), "MIT", "License field", bundled_libraries(odd), ()).verdict == "unknown"
