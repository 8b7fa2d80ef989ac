"""StatCache and files_digest, on real files in a temp dir (no mocks of the file system)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from helixvcs.hashing import StatCache, digest, files_digest
from helixvcs.hashing.files import RACY_SECONDS


def _old(path: Path, text: str, age: float = 60) -> Path:
    """Write ``text`` with an mtime well outside the racy window."""
    path.write_text(text)
    then = time.time_ns() - int(age * 1e9)
    os.utime(path, ns=(then, then))
    return path


def _swap_content_keep_stat(path: Path, text: str) -> None:
    """Change the bytes but not size, mtime or inode: only a cache can hide this."""
    before = path.stat()
    assert len(text.encode()) == before.st_size
    with open(path, "r+b") as f:  # same inode
        f.write(text.encode())
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_unchanged_stat_is_served_from_the_cache(tmp_path: Path) -> None:
    data = _old(tmp_path / "data.csv", "aaaa")
    cache = StatCache(None)
    first = cache.file_digest(data)
    _swap_content_keep_stat(data, "bbbb")
    assert cache.file_digest(data) == first  # proves the file was not read again
    assert StatCache(None).file_digest(data) != first  # a cold cache sees the new bytes


def test_size_mtime_and_inode_changes_are_noticed(tmp_path: Path) -> None:
    data = _old(tmp_path / "data.csv", "aaaa")
    cache = StatCache(None)
    digests = [cache.file_digest(data)]
    _old(data, "aaaaa")  # size
    digests.append(cache.file_digest(data))
    _old(data, "bbbbb", age=30)  # same size, other mtime
    digests.append(cache.file_digest(data))
    stat = data.stat()
    replacement = tmp_path / "replacement"
    replacement.write_text("ccccc")  # same size and mtime, new inode
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(replacement, data)
    digests.append(cache.file_digest(data))
    assert len(set(digests)) == 4


def test_racily_clean_entries_are_not_trusted(tmp_path: Path) -> None:
    data = tmp_path / "fresh.csv"
    data.write_text("aaaa")  # mtime is now: within the racy window
    cache = StatCache(None)
    first = cache.file_digest(data)
    _swap_content_keep_stat(data, "bbbb")
    assert cache.file_digest(data) != first
    assert RACY_SECONDS >= 1


def test_cache_persists_across_instances(tmp_path: Path) -> None:
    data = _old(tmp_path / "data.csv", "aaaa")
    store = tmp_path / ".helix" / "stat.json"
    cache = StatCache(store)
    first = cache.file_digest(data)
    cache.save()
    _swap_content_keep_stat(data, "bbbb")
    reloaded = StatCache(store)
    assert len(reloaded) == 1
    assert reloaded.file_digest(data) == first
    assert [p.name for p in store.parent.iterdir()] == ["stat.json"]  # no temp files left


def test_save_writes_only_when_something_changed(tmp_path: Path) -> None:
    data = _old(tmp_path / "data.csv", "aaaa")
    store = tmp_path / "stat.json"
    StatCache(store).save()
    assert not store.exists()
    cache = StatCache(store)
    cache.file_digest(data)
    cache.save()
    written = store.stat().st_mtime_ns
    os.utime(store, ns=(written - 10**9, written - 10**9))
    again = StatCache(store)
    again.file_digest(data)
    again.save()
    assert store.stat().st_mtime_ns == written - 10**9


def test_missing_or_corrupt_cache_is_empty(tmp_path: Path) -> None:
    data = _old(tmp_path / "data.csv", "aaaa")
    expected = StatCache(None).file_digest(data)
    for content in ("{not json", '{"format": 1, "entries": {"x": [1, 2]}}', "[]", ""):
        store = tmp_path / "stat.json"
        store.write_text(content)
        cache = StatCache(store)
        assert len(cache) == 0
        assert cache.file_digest(data) == expected
        cache.save()  # a corrupt cache is replaced by a good one
        assert len(StatCache(store)) == 1
    assert len(StatCache(tmp_path / "missing.json")) == 0


def test_in_memory_cache_never_writes(tmp_path: Path) -> None:
    cache = StatCache(None)
    cache.file_digest(_old(tmp_path / "a", "x"))
    cache.save()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_digest_streams_large_files(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(b"\x01" * (3 * (1 << 20) + 17))
    small = tmp_path / "small.bin"
    small.write_bytes(b"\x01" * (3 * (1 << 20) + 16))
    cache = StatCache(None)
    assert cache.file_digest(big) != cache.file_digest(small)
    assert len(cache.file_digest(big)) == 40


def _tree(root: Path, files: dict[str, str]) -> list[Path]:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        _old(root / name, text)
    return [root / name for name in files]


def test_files_digest_sees_added_renamed_and_edited_files(tmp_path: Path) -> None:
    cache = StatCache(None)
    base = {"data/a.csv": "1,2\n", "data/b.csv": "3,4\n"}
    variants = [
        base,
        {**base, "data/c.csv": "5,6\n"},  # added
        {"data/a.csv": "1,2\n", "data/renamed.csv": "3,4\n"},  # renamed
        {"data/a.csv": "1,2\n", "data/b.csv": "3,5\n"},  # edited
        {"data/a.csv": "1,2\n"},  # removed
    ]
    digests = []
    for i, files in enumerate(variants):
        root = tmp_path / f"v{i}"
        digests.append(files_digest(root, _tree(root, files), cache))
    assert len(set(digests)) == len(variants)


def test_files_digest_ignores_order_and_path_spelling(tmp_path: Path) -> None:
    paths = _tree(tmp_path, {"x/a.csv": "1", "x/b.csv": "2"})
    cache = StatCache(None)
    relative = [p.relative_to(tmp_path) for p in paths]
    assert (
        files_digest(tmp_path, paths, cache)
        == files_digest(tmp_path, list(reversed(paths)), cache)
        == files_digest(tmp_path, relative, cache)
    )
    other_root = tmp_path / "moved"
    moved = _tree(other_root, {"x/a.csv": "1", "x/b.csv": "2"})
    assert files_digest(other_root, moved, cache) == files_digest(tmp_path, paths, cache)


def test_files_digest_of_nothing_is_defined(tmp_path: Path) -> None:
    assert files_digest(tmp_path, [], StatCache(None)) == digest("files", "0")


def test_a_stat_cache_that_cannot_be_saved_is_only_a_cache(tmp_path):
    """A full disk (here: a file size limit) while the stat cache is saved loses the cache,
    never the command: the next one hashes those files again."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        f"""
        import resource, signal
        from pathlib import Path
        from helixvcs.hashing import StatCache
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        folder = Path({str(tmp_path)!r})
        for i in range(200):
            (folder / f"f{{i:03d}}.txt").write_text(str(i))
        cache = StatCache(folder / "statcache.json")
        for i in range(200):
            cache.file_digest(folder / f"f{{i:03d}}.txt")
        resource.setrlimit(resource.RLIMIT_FSIZE, (4000, 4000))
        cache.save()
        print("saved or skipped")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "saved or skipped" in done.stdout
    assert not (tmp_path / "statcache.json").exists()
    assert not list(tmp_path.glob(".statcache.json.*.tmp"))  # no temp file left either


def test_digests_taken_side_by_side_are_those_taken_one_by_one(tmp_path: Path) -> None:
    files = [_old(tmp_path / f"part{i}.csv", f"{i}," * (50_000 + i)) for i in range(3)]
    one_by_one = [StatCache(None).file_digest(f) for f in files]
    cache = StatCache(None)
    cache.prefetch(files)
    assert cache._pending  # being taken on other threads
    assert [cache.file_digest(f) for f in files] == one_by_one
    assert not cache._pending
    _swap_content_keep_stat(files[0], "x," * 50_000)
    assert cache.file_digest(files[0]) == one_by_one[0]  # kept: served from the cache
    assert all(cache.seen(f) is not None for f in files)


def test_a_file_that_cannot_be_read_raises_where_its_digest_is_asked(tmp_path: Path) -> None:
    good = _old(tmp_path / "good.csv", "a," * 1000)
    folder = tmp_path / "not-a-file.csv"
    folder.mkdir()  # stat works, reading fails
    cache = StatCache(None)
    cache.prefetch([good, folder])
    assert cache.file_digest(good) == StatCache(None).file_digest(good)
    with pytest.raises(OSError) as raised:  # what reading it one by one raises
        cache.file_digest(folder)
    assert raised.value.filename == str(folder)


def test_cached_files_and_a_single_stale_one_are_not_taken_on_threads(tmp_path: Path) -> None:
    files = [_old(tmp_path / f"f{i}.csv", f"{i}" * 100) for i in range(2)]
    cache = StatCache(None)
    cache.file_digest(files[0])
    cache.prefetch(files)  # only one needs reading: nothing to do side by side
    assert not cache._pending
