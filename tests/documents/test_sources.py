"""The folder walk: order, globs, default excludes, symlinks, bad folders, laziness."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragkit.documents import (
    DEFAULT_EXCLUDE,
    Skipped,
    SourceFile,
    _sources,
    content_hash,
    find_files,
    needs_reload,
)


def make_tree(root: Path, files: list[str]) -> None:
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content of {name}\n")


def relpaths(items: list[SourceFile | Skipped]) -> list[str]:
    return [i.relpath for i in items if isinstance(i, SourceFile)]


def skipped(items: list[SourceFile | Skipped]) -> dict[str, Skipped]:
    return {i.relpath: i for i in items if isinstance(i, Skipped)}


def test_walk_is_depth_first_sorted_and_repeatable(tmp_path: Path) -> None:
    make_tree(tmp_path, ["b.txt", "a/z.md", "a/b/c.md", "A.txt", "c/d.txt"])
    first = list(find_files([tmp_path]))
    assert relpaths(first) == ["A.txt", "a/b/c.md", "a/z.md", "b.txt", "c/d.txt"]
    assert first == list(find_files([tmp_path]))


def test_source_file_fields(tmp_path: Path) -> None:
    make_tree(tmp_path, ["docs/a.md"])
    (item,) = find_files([tmp_path])
    assert isinstance(item, SourceFile)
    path = tmp_path / "docs" / "a.md"
    st = path.stat()
    assert item.root == tmp_path
    assert item.path == path
    assert item.path.is_absolute()
    assert item.relpath == "docs/a.md"
    assert (item.size, item.mtime_ns) == (st.st_size, st.st_mtime_ns)


def test_several_roots_are_walked_in_the_order_given(tmp_path: Path) -> None:
    make_tree(tmp_path / "one", ["x.txt"])
    make_tree(tmp_path / "two", ["y.txt"])
    items = list(find_files([tmp_path / "two", tmp_path / "one"]))
    assert [(i.root.name, i.relpath) for i in items] == [
        ("two", "y.txt"),
        ("one", "x.txt"),
    ]


def test_a_file_given_as_root_is_yielded_whatever_the_globs(tmp_path: Path) -> None:
    make_tree(tmp_path, [".hidden.txt"])
    (item,) = find_files([tmp_path / ".hidden.txt"], include=["*.md"])
    assert isinstance(item, SourceFile)
    assert (item.root, item.relpath) == (tmp_path, ".hidden.txt")


def test_a_missing_root_is_skipped(tmp_path: Path) -> None:
    (item,) = find_files([tmp_path / "nope"])
    assert item == Skipped(".", "not found", root=tmp_path / "nope", is_dir=True)


def test_default_excludes(tmp_path: Path) -> None:
    make_tree(
        tmp_path,
        [
            "keep.md",
            "docs/keep.txt",
            ".hidden.md",
            ".git/config",
            "docs/.cache/x.txt",
            "node_modules/pkg/readme.md",
            "src/__pycache__/m.txt",
            "venv/lib/site.txt",
            ".venv/lib/site.txt",
            ".ragkit/meta.txt",
            "myenv/pyvenv.cfg",
            "myenv/lib/x.txt",
        ],
    )
    assert relpaths(list(find_files([tmp_path]))) == ["docs/keep.txt", "keep.md"]


def test_virtualenv_detection_can_be_turned_off(tmp_path: Path) -> None:
    make_tree(tmp_path, ["myenv/pyvenv.cfg", "myenv/x.txt"])
    found = relpaths(list(find_files([tmp_path], skip_virtualenvs=False)))
    assert found == ["myenv/pyvenv.cfg", "myenv/x.txt"]


def test_skip_paths_are_never_entered(tmp_path: Path) -> None:
    make_tree(tmp_path, ["index/meta.txt", "doc.txt", "other/index/keep.txt"])
    found = relpaths(list(find_files([tmp_path], skip=[tmp_path / "index"])))
    assert found == ["doc.txt", "other/index/keep.txt"]


def test_a_root_inside_a_skip_path_yields_nothing(tmp_path: Path) -> None:
    make_tree(tmp_path, ["index/sub/meta.txt"])
    assert (
        list(find_files([tmp_path / "index" / "sub"], skip=[tmp_path / "index"])) == []
    )


def test_include_and_exclude_globs_with_double_star(tmp_path: Path) -> None:
    make_tree(
        tmp_path,
        [
            "docs/a.md",
            "docs/guide/b.md",
            "docs/guide/drafts/c.md",
            "docs/guide/d.txt",
            "e.md",
            "build/f.md",
        ],
    )
    items = list(
        find_files(
            [tmp_path],
            include=["docs/**/*.md", "*.txt"],
            exclude=[*DEFAULT_EXCLUDE, "**/drafts/**", "build/"],
        )
    )
    assert relpaths(items) == ["docs/a.md", "docs/guide/b.md", "docs/guide/d.txt"]


def test_replacing_the_excludes_lets_hidden_files_in(tmp_path: Path) -> None:
    make_tree(tmp_path, [".config/app.toml", "a.txt"])
    found = relpaths(list(find_files([tmp_path], exclude=[])))
    assert found == [".config/app.toml", "a.txt"]


def test_symlinks_inside_the_root_are_followed_once(tmp_path: Path) -> None:
    make_tree(tmp_path, ["real/doc.md", "file.txt"])
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    (tmp_path / "link.txt").symlink_to(tmp_path / "file.txt")
    items = list(find_files([tmp_path]))
    # "alias" sorts before "real": the folder's files appear once, under the
    # first path that reached them.
    assert relpaths(items) == ["alias/doc.md", "file.txt", "link.txt"]
    assert skipped(items) == {}


def test_symlinks_leading_out_of_the_root_are_skipped(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    make_tree(outside, ["secret.txt", "dir/x.txt"])
    root = tmp_path / "root"
    make_tree(root, ["a.txt"])
    (root / "out-file.txt").symlink_to(outside / "secret.txt")
    (root / "out-dir").symlink_to(outside / "dir")
    items = list(find_files([root]))
    assert relpaths(items) == ["a.txt"]
    bad = skipped(items)
    assert bad["out-file.txt"].reason == "symbolic link leads outside the root"
    assert bad["out-dir"].reason == "symbolic link leads outside the root"
    assert bad["out-dir"].is_dir


def test_symlink_loops_end(tmp_path: Path) -> None:
    make_tree(tmp_path, ["a/b/doc.txt"])
    (tmp_path / "a" / "b" / "up").symlink_to(tmp_path / "a")
    (tmp_path / "a" / "self").symlink_to("self")
    items = list(find_files([tmp_path]))
    assert relpaths(items) == ["a/b/doc.txt"]
    bad = skipped(items)
    assert bad["a/b/up"].reason == "symbolic link loop"
    assert bad["a/self"].reason.startswith("unusable symbolic link")


def test_broken_symlinks_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "missing.txt")
    (item,) = find_files([tmp_path])
    assert item == Skipped("dangling.txt", "broken symbolic link", root=tmp_path)


def test_a_name_that_is_not_utf8_is_skipped_with_its_reason(tmp_path: Path) -> None:
    make_tree(tmp_path, ["ok.md"])
    (tmp_path / "odd").mkdir()
    # Bytes that are not UTF-8 come back from os as lone surrogates (PEP 383).
    with open(os.path.join(os.fsencode(tmp_path), b"odd", b"caf\xe9.md"), "wb") as f:
        f.write(b"# Caf\xc3\xa9\n")
    items = list(find_files([tmp_path]))
    assert relpaths(items) == ["ok.md"]
    assert skipped(items) == {
        "odd/caf\udce9.md": Skipped(
            "odd/caf\udce9.md", "name is not valid UTF-8; rename it", root=tmp_path
        )
    }


def test_a_root_whose_name_is_not_utf8_is_skipped(tmp_path: Path) -> None:
    root = os.path.join(os.fsencode(tmp_path), b"d\xffr")
    os.mkdir(root)
    (item,) = find_files([Path(os.fsdecode(root))])
    assert isinstance(item, Skipped)
    assert item.reason == "name is not valid UTF-8; rename it"


def test_special_files_are_skipped(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    (item,) = find_files([tmp_path])
    assert isinstance(item, Skipped)
    assert item.reason == "not a regular file"


def test_a_folder_deleted_during_the_walk_is_skipped(tmp_path: Path) -> None:
    make_tree(tmp_path, ["a/1.txt", "b/2.txt", "b/3.txt", "c/4.txt"])
    walk = find_files([tmp_path])
    first = next(walk)
    assert isinstance(first, SourceFile) and first.relpath == "a/1.txt"
    shutil.rmtree(tmp_path / "b")
    rest = list(walk)
    assert relpaths(rest) == ["c/4.txt"]
    gone = skipped(rest)["b"]
    assert gone.is_dir
    assert "vanished" in gone.reason


def failing_scandir(monkeypatch: pytest.MonkeyPatch, name: str, exc: OSError) -> None:
    real = os.scandir

    def fake(path: str) -> object:
        if os.path.basename(path) == name:
            raise exc
        return real(path)

    monkeypatch.setattr(_sources, "_scandir", fake)


def test_a_folder_that_vanishes_before_it_is_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path, ["a/1.txt", "b/2.txt"])
    failing_scandir(monkeypatch, "a", FileNotFoundError(2, "No such file"))
    items = list(find_files([tmp_path]))
    assert relpaths(items) == ["b/2.txt"]
    assert skipped(items)["a"].reason == "folder vanished during the walk"


def test_an_unreadable_folder_is_skipped_and_the_walk_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path, ["a/1.txt", "locked/2.txt", "z.txt"])
    failing_scandir(monkeypatch, "locked", PermissionError(13, "Permission denied"))
    items = list(find_files([tmp_path]))
    assert relpaths(items) == ["a/1.txt", "z.txt"]
    locked = skipped(items)["locked"]
    assert (locked.reason, locked.is_dir, locked.root) == (
        "permission denied",
        True,
        tmp_path,
    )


def test_an_unreadable_root_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    make_tree(root, ["a.txt"])
    failing_scandir(monkeypatch, "root", PermissionError(13, "Permission denied"))
    (item,) = find_files([root])
    assert item == Skipped(".", "permission denied", root=root, is_dir=True)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root reads folders whatever their mode",
)
def test_a_chmod_000_folder_is_skipped(tmp_path: Path) -> None:
    make_tree(tmp_path, ["locked/x.txt", "y.txt"])
    (tmp_path / "locked").chmod(0)
    try:
        items = list(find_files([tmp_path]))
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert relpaths(items) == ["y.txt"]
    assert skipped(items)["locked"].reason == "permission denied"


def test_the_walk_is_lazy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_tree(tmp_path, [f"d{i:02}/f.txt" for i in range(40)])
    listed: list[str] = []
    real = os.scandir

    def counting(path: str) -> Iterator[os.DirEntry[str]]:
        listed.append(path)
        return real(path)

    monkeypatch.setattr(_sources, "_scandir", counting)
    walk = find_files([tmp_path])
    assert listed == []
    first = next(walk)
    assert isinstance(first, SourceFile) and first.relpath == "d00/f.txt"
    assert len(listed) == 2
    walk.close()


def test_content_hash_streams_large_files(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 17)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    assert content_hash(path) == hashlib.sha256(data).hexdigest()


def test_needs_reload(tmp_path: Path) -> None:
    file = SourceFile(tmp_path, tmp_path / "a", "a", 10, 1000)
    assert needs_reload(file, None, None)
    assert needs_reload(file, 10, None)
    assert not needs_reload(file, 10, 1000)
    assert needs_reload(file, 11, 1000)
    assert needs_reload(file, 10, 999)
