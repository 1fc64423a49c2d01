"""tools/fetch_files.py, the set-up step that brings Tesseract's models and the test fonts with Python alone: run as
make runs it, in a subprocess whose PATH holds nothing but python3 (no apt-get, no dpkg) and in isolated mode
without site-packages (the standard library only), against a loopback mirror serving a Debian package built here.
And the real manifests: they pin every model the engine knows and the fonts the suite renders in."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

from snapscribe.engines.scripts import TESSERACT_MODELS
from snapscribe_tools.template import PROJECT_ROOT
from tests.unit.test_rendered_scripts import AMIRI, DEJAVU, LOHIT

SCRIPT = PROJECT_ROOT / "tools" / "fetch_files.py"
POOL_PATH = "pool/main/f/fake-models/fake-models_1.0-1_all.deb"
MODEL_PATH = "usr/share/fake/tessdata/xyz.traineddata"
MODEL = b"a model's bytes " * 1000
LICENCE = b"Licence: Apache-2.0\n"


def _fetch_files() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fetch_files", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("fetch_files", module)  # dataclasses looks their module up there
    spec.loader.exec_module(module)
    return module


def _tar_xz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as archive:
        for path, data in files.items():
            info = tarfile.TarInfo(f"./{path}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _deb(files: dict[str, bytes]) -> bytes:
    """A Debian package as dpkg-deb writes one: an ar archive of debian-binary, control.tar.xz, data.tar.xz."""
    members = [
        ("debian-binary", b"2.0\n"),
        ("control.tar.xz", _tar_xz({"control": b"Package: fake-models\nVersion: 1.0-1\n"})),
        ("data.tar.xz", _tar_xz(files)),
    ]
    out = b"!<arch>\n"
    for name, data in members:
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode() + data + b"\n" * (len(data) % 2)
    return out


DEB = _deb({MODEL_PATH: MODEL, "usr/share/doc/fake-models/copyright": LICENCE})


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """A Debian mirror on loopback serving DEB at POOL_PATH; the paths asked for are recorded."""
    root = tmp_path_factory.mktemp("mirror")
    (root / POOL_PATH).parent.mkdir(parents=True)
    (root / POOL_PATH).write_bytes(DEB)
    requested: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requested
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _manifest(folder: Path, mirrors: list[str], deb_sha: str = _sha(DEB), model_sha: str = _sha(MODEL)) -> Path:
    lines = [f"mirror {url}" for url in mirrors]
    lines += [
        f"package fake-models 1.0-1 {POOL_PATH} sha256={deb_sha}  # a comment",
        f"  file {MODEL_PATH} sha256={model_sha}",
    ]
    path = folder / "models.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(manifest: Path, dest: Path, tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    """As make runs it, on a machine with python3 and nothing else on PATH (and no apt sources unless given)."""
    bin_dir = tmp_path / "bin"
    if not bin_dir.exists():
        bin_dir.mkdir()
        (bin_dir / "python3").symlink_to(sys.executable)
    environment = {"PATH": str(bin_dir), "HOME": str(tmp_path), "SNAPSCRIBE_APT_ROOT": str(tmp_path / "no-apt")}
    environment |= variables
    return subprocess.run(
        ["python3", "-I", "-S", str(SCRIPT), str(manifest), str(dest)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _siblings(dest: Path) -> list[str]:
    """What is in dest's parent folder (the fetcher stages its work there)."""
    return sorted(path.name for path in dest.parent.iterdir()) if dest.parent.exists() else []


def test_installs_the_pinned_files_and_licences_without_apt_then_does_nothing_on_a_rerun(
    mirror: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, requested = mirror
    dest = tmp_path / "share" / "tessdata"  # share/ is made too
    manifest = _manifest(tmp_path, [url])

    first = _run(manifest, dest, tmp_path)

    assert first.returncode == 0, first.stderr
    assert (dest / "xyz.traineddata").read_bytes() == MODEL
    assert (dest / "licenses" / "fake-models.copyright").read_bytes() == LICENCE
    assert sorted(path.name for path in dest.iterdir()) == ["licenses", "xyz.traineddata"]
    assert _siblings(dest) == ["tessdata"]  # nothing staged beside it
    assert oct(dest.stat().st_mode & 0o777) == "0o755"
    fetched = len(requested)
    modified = (dest / "xyz.traineddata").stat().st_mtime_ns

    second = _run(manifest, dest, tmp_path)

    assert second.returncode == 0, second.stderr
    assert "already" in second.stdout
    assert len(requested) == fetched  # nothing downloaded again
    assert (dest / "xyz.traineddata").stat().st_mtime_ns == modified


@pytest.mark.parametrize("pin", ["package", "file"])
def test_a_download_that_does_not_match_its_pin_is_refused_and_leaves_nothing_behind(
    mirror: tuple[str, list[str]], tmp_path: Path, pin: str
) -> None:
    url, _ = mirror
    wrong = _sha(b"something else")
    manifest = _manifest(tmp_path, [url], **({"deb_sha": wrong} if pin == "package" else {"model_sha": wrong}))
    dest = tmp_path / "work" / "tessdata"

    completed = _run(manifest, dest, tmp_path)

    assert completed.returncode == 1
    assert "sha256" in completed.stderr
    assert wrong in completed.stderr
    assert "Traceback" not in completed.stderr
    assert _siblings(dest) == []  # neither the folder nor a half-made one beside it


def test_a_failed_update_keeps_the_installed_files_and_a_good_one_replaces_them(
    mirror: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, _ = mirror
    dest = tmp_path / "work" / "tessdata"
    dest.mkdir(parents=True)
    (dest / "old.traineddata").write_bytes(b"the models installed before")
    (dest / ".installed").touch()

    failed = _run(_manifest(tmp_path, [url], deb_sha=_sha(b"a version the mirror lacks")), dest, tmp_path)

    assert failed.returncode == 1
    assert sorted(path.name for path in dest.iterdir()) == [".installed", "old.traineddata"]
    assert _siblings(dest) == ["tessdata"]

    updated = _run(_manifest(tmp_path, [url]), dest, tmp_path)

    assert updated.returncode == 0, updated.stderr
    assert sorted(path.name for path in dest.iterdir()) == ["licenses", "xyz.traineddata"]  # a new folder whole
    assert _siblings(dest) == ["tessdata"]


def test_folders_a_killed_run_left_are_removed_once_old_and_a_running_one_is_not(
    mirror: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, _ = mirror
    dest = tmp_path / "work" / "tessdata"
    abandoned, running = dest.parent / ".tessdata.new-killed", dest.parent / ".tessdata.new-running"
    for folder in (abandoned, running):
        (folder / "licenses").mkdir(parents=True)
    two_hours_ago = time.time() - 7200
    os.utime(abandoned, (two_hours_ago, two_hours_ago))
    unrelated = dest.parent / ".tessdata-notes"
    unrelated.mkdir()
    os.utime(unrelated, (two_hours_ago, two_hours_ago))

    completed = _run(_manifest(tmp_path, [url]), dest, tmp_path)

    assert completed.returncode == 0, completed.stderr
    assert _siblings(dest) == [".tessdata-notes", ".tessdata.new-running", "tessdata"]


def test_a_mirror_that_fails_is_passed_over_for_the_next(mirror: tuple[str, list[str]], tmp_path: Path) -> None:
    url, requested = mirror
    dest = tmp_path / "work" / "tessdata"
    unreachable = "http://127.0.0.1:9"  # the discard port: nothing listens there
    missing = f"{url}/no-such-archive"

    completed = _run(_manifest(tmp_path, [unreachable, missing, url]), dest, tmp_path)

    assert completed.returncode == 0, completed.stderr
    assert (dest / "xyz.traineddata").read_bytes() == MODEL
    assert f"/no-such-archive/{POOL_PATH}" in requested


def test_every_mirror_failing_says_what_each_answered(mirror: tuple[str, list[str]], tmp_path: Path) -> None:
    url, _ = mirror
    dest = tmp_path / "work" / "tessdata"

    completed = _run(_manifest(tmp_path, [f"{url}/gone", "http://127.0.0.1:9"]), dest, tmp_path)

    assert completed.returncode == 1
    assert f"{url}/gone/{POOL_PATH}" in completed.stderr
    assert "http://127.0.0.1:9/" in completed.stderr
    assert _siblings(dest) == []


@pytest.mark.parametrize(
    "line",
    [
        "package fake 1.0 pool/fake.deb sha256=abc",  # not 64 hex digits
        "package fake 1.0 pool/fake.deb md5=" + "0" * 64,
        "  file usr/share/x.traineddata sha256=" + "0" * 64,  # a file before any package
        "download https://example.invalid/x",
    ],
)
def test_a_malformed_manifest_is_refused_before_anything_is_fetched(tmp_path: Path, line: str) -> None:
    manifest = tmp_path / "models.txt"
    manifest.write_text(f"mirror http://127.0.0.1:9\n{line}\n")

    completed = _run(manifest, tmp_path / "work" / "tessdata", tmp_path)

    assert completed.returncode == 1
    assert "models.txt line 2" in completed.stderr


def test_the_model_manifest_pins_every_model_the_engine_reads() -> None:
    fetch_files = _fetch_files()
    manifest = fetch_files.parse_manifest(PROJECT_ROOT / "requirements" / "tessdata.txt")

    names = sorted(pinned.name for package in manifest.packages for pinned in package.files)

    assert names == sorted(f"{model}.traineddata" for model in TESSERACT_MODELS.values())
    assert manifest.mirrors == []  # a mirror is the machine's choice: no host is named in the repository
    assert all(package.pool_path.endswith("_all.deb") for package in manifest.packages)  # any machine's


def test_the_font_manifest_pins_the_fonts_the_suite_renders_in() -> None:
    fetch_files = _fetch_files()
    manifest = fetch_files.parse_manifest(PROJECT_ROOT / "requirements" / "test-fonts.txt")

    assert sorted(pinned.name for package in manifest.packages for pinned in package.files) == sorted(
        [DEJAVU, LOHIT, AMIRI]
    )
    assert manifest.mirrors == []


@pytest.mark.parametrize(("manifest", "folder"), [("tessdata.txt", "tessdata"), ("test-fonts.txt", "fonts")])
def test_what_make_installed_is_what_the_manifest_pins(manifest: str, folder: str) -> None:
    """The virtualenv's models and fonts (the ones every other test reads) carry the pinned sha256."""
    installed = Path(sys.prefix) / "share" / folder
    if not (installed / ".installed").exists():
        pytest.skip(f"make has not installed {installed}")
    fetch_files = _fetch_files()

    assert fetch_files.is_installed(fetch_files.parse_manifest(PROJECT_ROOT / "requirements" / manifest), installed)


def test_the_fetcher_runs_where_nothing_but_the_standard_library_is() -> None:
    """Its imports are the standard library's: the subprocess runs above use -S (no site-packages) as well."""
    imported = {
        line.split()[1].split(".")[0]
        for line in SCRIPT.read_text().splitlines()
        if line.startswith(("import ", "from ")) and not line.startswith("from __future__")
    }
    assert imported <= sys.stdlib_module_names, imported - sys.stdlib_module_names
    assert os.access(SCRIPT, os.X_OK)


def _apt_root(tmp_path: Path, sources_list: str, deb822: str) -> Path:
    root = tmp_path / "apt"
    (root / "sources.list.d").mkdir(parents=True)
    (root / "sources.list").write_text(sources_list)
    (root / "sources.list.d" / "debian.sources").write_text(deb822)
    return root


def test_without_a_mirror_given_the_machines_apt_sources_are_read_in_their_order(
    mirror: tuple[str, list[str]], tmp_path: Path
) -> None:
    """A Debian machine (the image's python base) needs no setting: apt's sources are read, not run.
    Security archives are passed over; a dead archive is passed over for the next."""
    url, requested = mirror
    root = _apt_root(
        tmp_path,
        "# a comment\ndeb [arch=amd64 signed-by=/x.gpg] http://127.0.0.1:9/dead bookworm main\n",
        "Types: deb\nURIs: http://127.0.0.1:9/debian-security\nSuites: bookworm-security\n\n"
        f"Types: deb-src deb\nURIs: {url}/\nSuites: bookworm\nComponents: main\n",
    )
    manifest = tmp_path / "models.txt"
    manifest.write_text(
        f"package fake-models 1.0-1 {POOL_PATH} sha256={_sha(DEB)}\n  file {MODEL_PATH} sha256={_sha(MODEL)}\n"
    )
    dest = tmp_path / "work" / "tessdata"
    before = len(requested)

    completed = _run(manifest, dest, tmp_path, SNAPSCRIBE_APT_ROOT=str(root))

    assert completed.returncode == 0, completed.stderr
    assert (dest / "xyz.traineddata").read_bytes() == MODEL
    assert requested[before:] == [f"/{POOL_PATH}"]
    assert _fetch_files().apt_source_mirrors(root) == ["http://127.0.0.1:9/dead", url]


def test_the_environment_names_mirrors_before_apt_does(mirror: tuple[str, list[str]], tmp_path: Path) -> None:
    url, _ = mirror
    root = _apt_root(tmp_path, "deb http://127.0.0.1:9/dead bookworm main\n", "")
    manifest = tmp_path / "models.txt"
    manifest.write_text(
        f"package fake-models 1.0-1 {POOL_PATH} sha256={_sha(DEB)}\n  file {MODEL_PATH} sha256={_sha(MODEL)}\n"
    )
    dest = tmp_path / "work" / "tessdata"

    completed = _run(
        manifest, dest, tmp_path, SNAPSCRIBE_APT_ROOT=str(root), SNAPSCRIBE_DEBIAN_MIRRORS=f"{url}/gone {url}"
    )

    assert completed.returncode == 0, completed.stderr
    assert "127.0.0.1:9" not in completed.stderr  # apt's dead archive was never asked


def test_no_mirror_anywhere_says_how_to_name_one_and_leaves_nothing(tmp_path: Path) -> None:
    manifest = tmp_path / "models.txt"
    manifest.write_text(
        f"package fake-models 1.0-1 {POOL_PATH} sha256={_sha(DEB)}\n  file {MODEL_PATH} sha256={_sha(MODEL)}\n"
    )
    dest = tmp_path / "work" / "tessdata"

    completed = _run(manifest, dest, tmp_path)

    assert completed.returncode == 1
    assert "SNAPSCRIBE_DEBIAN_MIRRORS" in completed.stderr
    assert not dest.exists()
    assert _siblings(dest) == []
