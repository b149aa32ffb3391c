"""Named datasets for `sweep demo --dataset NAME`: the synthetic demo (offline, generated) and the
MovieLens releases, read from a folder the user gives or downloaded from GroupLens once into a
user cache and checked against a pinned checksum.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sweep_core.errors import SweepError

from objective_sweep.datasets import movielens, synthetic

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens"
DOWNLOAD_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Release:
    """A MovieLens zip and the digests it is checked against before use: the zip's MD5 as GroupLens
    publishes it (ml-100k.zip.md5), and the SHA-256 of each file the preparation reads, pinned only
    where it was verified on a copy of that release, never guessed."""

    zip_md5: str | None = None
    file_sha256: dict[str, str] = field(default_factory=dict)

    def pinned(self) -> bool:
        return bool(self.zip_md5 or self.file_sha256)


RELEASES = {
    "ml-100k": Release(zip_md5="0e33842e24a9c977be4e0107933c0723"),
    # GroupLens publishes no digest for this rolling release; these are the files of the
    # 2018-09-26 release (100,836 ratings), verified on the team's copy. If GroupLens replaces it,
    # the check fails and says so rather than sweeping different data under the same name.
    "ml-latest-small": Release(
        file_sha256={
            "ratings.csv": "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646",
            "movies.csv": "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07",
        }
    ),
}
NAMES = ("demo", *RELEASES)


class DatasetUnavailable(SweepError):
    """A named dataset cannot be produced here (offline, checksum mismatch, unknown name)."""


def default_cache_dir() -> Path:
    """~/.cache/objective-sweep, or $XDG_CACHE_HOME/objective-sweep."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "objective-sweep"


def resolve(name: str, data_dir: Path | None = None, cache_dir: Path | None = None) -> Path:
    """The prepared folder of dataset `name` ("demo", "ml-100k" or "ml-latest-small").

    With `data_dir`, the MovieLens files are read from there; otherwise they are downloaded once
    into the cache. Preparation and generation are repeated on each call (under a second) so a
    prepared folder never goes stale against its source or a newer generator.
    """
    cache = cache_dir or default_cache_dir()
    if name == "demo":
        if data_dir is not None:
            raise DatasetUnavailable(
                "--data-dir applies to MovieLens datasets; the demo dataset is generated"
            )
        out = cache / "prepared" / f"demo-seed{synthetic.DEMO.seed}"
        synthetic.generate(synthetic.DEMO, out)
        return out
    if name not in RELEASES:
        raise DatasetUnavailable(f"unknown dataset {name!r}; choose one of: {', '.join(NAMES)}")
    source = data_dir if data_dir is not None else _downloaded(name, cache)
    out = cache / "prepared" / name
    movielens.prepare(source, out)
    return out


def _downloaded(name: str, cache: Path) -> Path:
    """The release's extracted folder in the cache, downloaded once and verified before every use."""
    folder = cache / "raw" / name
    release = RELEASES[name]
    if not release.pinned():
        raise DatasetUnavailable(
            f"{name} has no pinned checksum, so it is not downloaded unverified. Download "
            f"{GROUPLENS_URL}/{name}.zip yourself, unzip it and pass --data-dir DIR."
        )
    if _movielens_ready(folder):
        _verify_files(folder, name, release)
        return folder
    archive = cache / "downloads" / f"{name}.zip"
    archive.parent.mkdir(parents=True, exist_ok=True)
    url = f"{GROUPLENS_URL}/{name}.zip"
    partial = archive.with_suffix(".part")
    print(f"downloading {url} ...", file=sys.stderr, flush=True)
    try:
        with (
            urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response,  # noqa: S310 - fixed https URL
            partial.open("wb") as out,
        ):
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        partial.unlink(missing_ok=True)
        raise DatasetUnavailable(
            f"cannot download {url} ({getattr(error, 'reason', error)}): this machine looks offline. "
            f"Download it elsewhere, unzip it and pass --data-dir DIR, or use --dataset demo, which "
            "needs no network."
        ) from error
    if release.zip_md5:
        _verify(partial, f"{name}.zip", "md5", release.zip_md5, delete=[partial])
    partial.replace(archive)
    # Extract beside the cache, check, then move into place: a failed check leaves no folder behind
    # that a later call would take for a verified one.
    with tempfile.TemporaryDirectory(dir=cache) as scratch:
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(scratch)
        _verify_files(Path(scratch) / name, name, release, delete=[archive])
        shutil.rmtree(folder, ignore_errors=True)
        folder.parent.mkdir(parents=True, exist_ok=True)
        (Path(scratch) / name).replace(folder)
    return folder


def _movielens_ready(folder: Path) -> bool:
    """Whether `folder` holds one of the MovieLens layouts prepare() reads."""
    try:
        movielens.detect_layout(folder)
    except SweepError:
        return False
    return True


def _verify_files(folder: Path, name: str, release: Release, delete: Sequence[Path] = ()) -> None:
    for file, expected in release.file_sha256.items():
        _verify(folder / file, f"{name}/{file}", "sha256", expected, delete=[*delete, folder])


def _verify(path: Path, label: str, algorithm: str, expected: str, delete: Sequence[Path]) -> None:
    """Raise (deleting `delete`) unless `path`'s digest is the pinned one."""
    digest = hashlib.new(algorithm, usedforsecurity=False)
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        got = digest.hexdigest()
    except FileNotFoundError:
        got = "no such file"
    if got == expected:
        return
    for stale in delete:
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
    raise DatasetUnavailable(
        f"{label} failed its {algorithm} check (got {got}, pinned {expected}); the download was deleted. "
        "Try again, or download it yourself and pass --data-dir DIR."
    )
