"""HEIC/HEIF is read by the layer's own decoder, pi-heif (libheif + libde265, LGPL), not by pillow-heif: that one
bundles x265 (GPL-2.0) and is a dev requirement, used only to encode test fixtures (tests/fakes/builders.py)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageStat

from snapscribe.images.formats import register_openers
from snapscribe.images.prepare import prepare_image
from tests.fakes.builders import heif_bytes


def _picture() -> Image.Image:
    image = Image.linear_gradient("L").resize((96, 64)).convert("RGB")
    ImageDraw.Draw(image).rectangle((10, 10, 40, 30), fill=(200, 30, 30))
    return image


def test_pillows_heif_opener_is_pi_heifs() -> None:
    register_openers()
    opener, _accept = Image.OPEN["HEIF"]
    assert opener.__module__.split(".")[0] == "pi_heif"


def test_a_heic_made_by_pillow_heif_decodes_through_pi_heif() -> None:
    source = _picture()
    data = heif_bytes(source, quality=95)
    prepared = prepare_image(data, max_side=2048, max_pixels=80_000_000)
    assert (prepared.mime_type, prepared.data, prepared.width, prepared.height) == ("image/heif", data, 96, 64)
    with Image.open(io.BytesIO(data)) as decoded:
        assert type(decoded).__module__.split(".")[0] == "pi_heif"
        difference = ImageChops.difference(decoded.convert("RGB"), source)
    assert max(ImageStat.Stat(difference).mean) < 8  # lossy, but the same picture
    smaller = prepare_image(data, max_side=48, max_pixels=80_000_000)  # decoded and re-encoded
    assert (smaller.width, smaller.height) == (48, 32)
    assert smaller.mime_type != "image/heif"


def test_the_service_reads_heic_without_pillow_heif_and_cannot_write_it(tmp_path: Path) -> None:
    """In a process of its own (this one has pillow-heif imported by the fixtures): the layer's code imports
    pi-heif alone, and registers no HEIF encoder."""
    heic = tmp_path / "picture.heic"
    heic.write_bytes(heif_bytes(_picture()))
    script = f"""
import json, sys
from PIL import Image
from snapscribe.images.prepare import prepare_image
prepared = prepare_image(open({str(heic)!r}, "rb").read(), max_side=48, max_pixels=80_000_000)
print(json.dumps({{
    "size": [prepared.width, prepared.height],
    "pillow_heif": "pillow_heif" in sys.modules,
    "pi_heif": "pi_heif" in sys.modules,
    "can_save_heif": "HEIF" in Image.SAVE,
}}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(done.stdout) == {"size": [48, 32], "pillow_heif": False, "pi_heif": True, "can_save_heif": False}
