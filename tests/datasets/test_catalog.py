"""Named datasets for `sweep demo --dataset`: generated, read from --data-dir, or downloaded once
and checked, with a clear message when the machine is offline."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from objective_sweep.datasets import DatasetUnavailable, catalog, resolve


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


PREPARED = {"interactions.csv", "items.csv", "titles.csv", "interactions.schema.json", "items.schema.json"}


def test_demo_is_generated_into_the_cache(tmp_path: Path) -> None:
    folder = resolve("demo", cache_dir=tmp_path)
    assert folder.is_relative_to(tmp_path)
    assert _files(folder) == PREPARED
    first = (folder / "interactions.csv").read_bytes()
    (folder / "interactions.csv").write_text("stale")
    assert resolve("demo", cache_dir=tmp_path) == folder
    assert (folder / "interactions.csv").read_bytes() == first


def test_data_dir_is_prepared_into_the_cache(tmp_path: Path, fixtures: Path) -> None:
    folder = resolve("ml-100k", data_dir=fixtures / "ml-100k", cache_dir=tmp_path)
    assert folder.is_relative_to(tmp_path)
    assert _files(folder) == PREPARED


def test_offline_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Port 9 (discard) on loopback refuses at once: the same failure as a machine without network.
    monkeypatch.setattr(catalog, "GROUPLENS_URL", "http://127.0.0.1:9/datasets/movielens")
    with pytest.raises(DatasetUnavailable) as refused:
        resolve("ml-100k", cache_dir=tmp_path)
    message = str(refused.value)
    assert "cannot download http://127.0.0.1:9/datasets/movielens/ml-100k.zip" in message
    for advice in ("offline", "--data-dir", "--dataset demo"):
        assert advice in message
    assert not list((tmp_path / "downloads").iterdir())


def _served_zip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fixtures: Path) -> bytes:
    """An ml-100k.zip built from the hand-written fixtures, served from a file:// "mirror"."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with zipfile.ZipFile(mirror / "ml-100k.zip", "w") as bundle:
        for name in ("u.data", "u.item"):
            bundle.write(fixtures / "ml-100k" / name, f"ml-100k/{name}")
    monkeypatch.setattr(catalog, "GROUPLENS_URL", mirror.as_uri())
    return (mirror / "ml-100k.zip").read_bytes()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_checked_and_prepared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fixtures: Path
) -> None:
    data = _served_zip(tmp_path, monkeypatch, fixtures)
    pinned = catalog.Release(
        zip_md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        file_sha256={"u.data": _sha256(fixtures / "ml-100k" / "u.data")},
    )
    monkeypatch.setitem(catalog.RELEASES, "ml-100k", pinned)
    folder = resolve("ml-100k", cache_dir=tmp_path / "cache")
    assert _files(folder) == PREPARED
    assert (tmp_path / "cache" / "downloads" / "ml-100k.zip").read_bytes() == data
    # The cached copy is checked again before every use: a changed file is refused and removed.
    raw = tmp_path / "cache" / "raw" / "ml-100k"
    (raw / "u.data").write_text("1\t1\t5\t881250949\n")
    with pytest.raises(DatasetUnavailable, match=r"ml-100k/u\.data failed its sha256 check"):
        resolve("ml-100k", cache_dir=tmp_path / "cache")
    assert not raw.exists()


def test_zip_checksum_mismatch_deletes_the_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fixtures: Path
) -> None:
    _served_zip(tmp_path, monkeypatch, fixtures)
    with pytest.raises(DatasetUnavailable, match=r"ml-100k\.zip failed its md5 check"):
        resolve("ml-100k", cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache" / "downloads").iterdir())


def test_file_checksum_mismatch_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fixtures: Path
) -> None:
    _served_zip(tmp_path, monkeypatch, fixtures)
    monkeypatch.setitem(catalog.RELEASES, "ml-100k", catalog.Release(file_sha256={"u.item": "0" * 64}))
    with pytest.raises(
        DatasetUnavailable, match=r"ml-100k/u\.item failed its sha256 check \(got [0-9a-f]{64}"
    ):
        resolve("ml-100k", cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache" / "downloads").iterdir())
    assert not (tmp_path / "cache" / "raw" / "ml-100k").exists()


def test_ml_latest_small_pins_the_files_of_the_team_copy(ml_latest_small: Path) -> None:
    pins = catalog.RELEASES["ml-latest-small"].file_sha256
    assert set(pins) == {"ratings.csv", "movies.csv"}
    assert {name: _sha256(ml_latest_small / name) for name in pins} == pins


def test_unpinned_release_is_not_downloaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(catalog.RELEASES, "ml-latest-small", catalog.Release())
    with pytest.raises(DatasetUnavailable, match=r"no pinned checksum.*--data-dir"):
        resolve("ml-latest-small", cache_dir=tmp_path)


def test_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(DatasetUnavailable, match="choose one of: demo, ml-100k, ml-latest-small"):
        resolve("ml-1b", cache_dir=tmp_path)
