"""Glob → regex translation: ``**``, anchoring, classes, folder-only patterns."""

from __future__ import annotations

import doctest
import re

import pytest

from ragkit.documents import GlobSet, _glob, glob_to_regex


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("**", "a", True),
        ("**", "a/b/c.txt", True),
        ("*.md", "a.md", True),
        ("*.md", "docs/deep/a.md", True),
        ("*.md", "a.mdx", False),
        ("*.md", "docs/a.txt", False),
        ("docs/*.md", "docs/a.md", True),
        ("docs/*.md", "docs/x/a.md", False),
        ("docs/*.md", "x/docs/a.md", False),
        ("docs/**/*.md", "docs/a.md", True),
        ("docs/**/*.md", "docs/x/y/a.md", True),
        ("docs/**/*.md", "other/docs/a.md", False),
        ("docs/**", "docs/a/b", True),
        ("docs/**", "docs", False),
        ("**/build", "build", True),
        ("**/build", "a/b/build", True),
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/y/b", True),
        ("a/**/b", "a/xb", False),
        ("**/**/c", "c", True),
        ("/top.md", "top.md", True),
        ("/top.md", "sub/top.md", False),
        ("?.py", "a.py", True),
        ("?.py", "ab.py", False),
        ("a*b", "a/b", False),
        ("a**b", "axxb", True),
        ("[abc].txt", "b.txt", True),
        ("[abc].txt", "d.txt", False),
        ("[!abc].txt", "d.txt", True),
        ("[!abc].txt", "a.txt", False),
        ("[a-c]x", "bx", True),
        ("[]]x", "]x", True),
        ("[x", "[x", True),
        ("[&~|]", "&", True),
        (".*", "x/.git", True),
        (".*", "x/a.git", False),
        ("a.b", "axb", False),
        ("*.txt", "line\nbreak.txt", True),
    ],
)
def test_glob_matches(pattern: str, path: str, expected: bool) -> None:
    assert bool(re.fullmatch(glob_to_regex(pattern), path)) is expected


def test_class_never_matches_a_slash() -> None:
    # "-" to "0" is a range that contains "/".
    assert re.fullmatch(glob_to_regex("a[--0]b"), "a/b") is None
    assert re.fullmatch(glob_to_regex("a[--0]b"), "a.b") is not None


def test_globset_matches_any_pattern_and_folder_only_patterns() -> None:
    globs = GlobSet.compile(["*.md", "build/"])
    assert globs.match("notes/a.md")
    assert not globs.match("notes/a.txt")
    assert globs.match("x/build", is_dir=True)
    assert not globs.match("x/build")
    assert globs.patterns == ("*.md", "build/")


def test_empty_globset_matches_nothing() -> None:
    globs = GlobSet.compile([])
    assert not globs.match("a")
    assert not globs.match("a", is_dir=True)


def test_globset_accepts_a_single_string() -> None:
    assert GlobSet.compile("*.md").match("a/b.md")


def test_doctests() -> None:
    assert doctest.testmod(_glob).failed == 0
