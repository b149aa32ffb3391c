"""Named datasets for `sweep demo --dataset NAME`: the synthetic demo (offline, generated) and the
MovieLens releases, read from a folder the user gives or downloaded from GroupLens once into a
user cache and checked against a pinned checksum.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sweep_core.errors import SweepError

from objective_sweep.datasets import movielens, synthetic

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens"
DOWNLOAD_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Release:
    """A MovieLens zip and the digests it is checked against. GroupLens publishes an MD5 per zip
    (ml-100k.zip.md5); a sha256 is pinned only where it was verified, never guessed."""

    sha256: str | None
    md5: str | None


RELEASES = {
    "ml-100k": Release(sha256=None, md5="0e33842e24a9c977be4e0107933c0723"),
    # ml-latest-small is rolling: GroupLens replaces it in place, so no digest can be pinned.
    "ml-latest-small": Release(sha256=None, md5=None),
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
    folder = cache / "raw" / name
    if _movielens_ready(folder):
        return folder
    release = RELEASES[name]
    if release.sha256 is None and release.md5 is None:
        raise DatasetUnavailable(
            f"{name} has no pinned checksum (GroupLens updates it in place), so it is not downloaded "
            f"unverified. Download {GROUPLENS_URL}/{name}.zip yourself, unzip it and pass --data-dir DIR."
        )
    archive = cache / "downloads" / f"{name}.zip"
    archive.parent.mkdir(parents=True, exist_ok=True)
    url = f"{GROUPLENS_URL}/{name}.zip"
    partial = archive.with_suffix(".part")
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
    _verify(partial, name, release)
    partial.replace(archive)
    with zipfile.ZipFile(archive) as bundle:
        bundle.extractall(cache / "raw")
    return folder


def _movielens_ready(folder: Path) -> bool:
    """Whether `folder` holds one of the MovieLens layouts prepare() reads."""
    try:
        movielens.detect_layout(folder)
    except SweepError:
        return False
    return True


def _verify(path: Path, name: str, release: Release) -> None:
    algorithm, expected = ("sha256", release.sha256) if release.sha256 else ("md5", release.md5)
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        path.unlink(missing_ok=True)
        raise DatasetUnavailable(
            f"{name}.zip failed its {algorithm} check (got {digest.hexdigest()}, pinned {expected}); "
            "the download was deleted. Try again, or download it yourself and pass --data-dir DIR."
        )
