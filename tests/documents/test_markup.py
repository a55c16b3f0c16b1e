"""Markdown, reStructuredText, HTML and code loaders keep headings as sections."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragkit.documents import ChunkingOptions, LoadError, chunk_document, load
from ragkit.types import Document


def load_text(tmp_path: Path, name: str, text: str) -> Document:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return load(path)


def headings(doc: Document) -> list[tuple[tuple[str, ...], str]]:
    """(heading path, first line of the section) for each section."""
    return [
        (s.heading_path, doc.text[s.start : s.end].strip().split("\n")[0])
        for s in doc.sections
    ]


def assert_sections_tile(doc: Document) -> None:
    assert doc.sections[0].start == 0
    assert doc.sections[-1].end == len(doc.text)
    for before, after in zip(doc.sections, doc.sections[1:], strict=False):
        assert before.end == after.start


MARKDOWN = """\
---
title: "Handbook: deploys"
owner: ops
---
Preamble text.

# Deploys

Intro.

## Canary ##

Five percent.

```bash
# not a heading
## nor this
```

~~~~
# still code
~~~
# still code after a shorter fence
~~~~

### Rollback **now** with [the tool](x.md)

Steps.

Freezes
-------

No Fridays.

---

Release train
=============

- item
---

Text.
"""


def test_markdown_heading_paths_fences_and_setext(tmp_path: Path) -> None:
    doc = load_text(tmp_path, "guide.md", MARKDOWN)
    assert doc.kind == "markdown"
    assert_sections_tile(doc)
    assert headings(doc) == [
        ((), "Preamble text."),
        (("Deploys",), "# Deploys"),
        (("Deploys", "Canary"), "## Canary ##"),
        (
            ("Deploys", "Canary", "Rollback now with the tool"),
            "### Rollback **now** with [the tool](x.md)",
        ),
        (("Deploys", "Freezes"), "Freezes"),
        (("Release train",), "Release train"),
    ]


def test_markdown_front_matter_is_blanked_and_gives_the_title(tmp_path: Path) -> None:
    doc = load_text(tmp_path, "guide.md", MARKDOWN)
    assert doc.title == "Handbook: deploys"
    assert "owner" not in doc.text
    # Blanked, not cut: line numbers are the file's.
    assert doc.text.split("\n")[4] == "Preamble text."
    (first, *_) = chunk_document(
        doc, ChunkingOptions(target_tokens=16, overlap_tokens=0)
    )
    assert (first.text, first.line_start) == ("Preamble text.", 5)


def test_markdown_title_falls_back_to_the_first_h1(tmp_path: Path) -> None:
    doc = load_text(tmp_path, "a.md", "## Sub\n\ntext\n\n# Main title\n")
    assert doc.title == "Main title"


def test_unclosed_front_matter_is_not_front_matter(tmp_path: Path) -> None:
    doc = load_text(tmp_path, "a.md", "---\ntitle: x\n\nBody\n")
    assert doc.title is None
    assert doc.text.startswith("---\ntitle: x")


def test_markdown_without_headings_is_one_section(tmp_path: Path) -> None:
    doc = load_text(tmp_path, "a.md", "just text\n\n#hashtag is not a heading\n")
    assert [(s.start, s.end, s.heading_path) for s in doc.sections] == [
        (0, len(doc.text), ())
    ]


def test_markdown_chunks_carry_heading_paths(tmp_path: Path) -> None:
    doc = load_text(tmp_path, "guide.md", MARKDOWN)
    chunks = list(chunk_document(doc))
    by_text = {c.text.split("\n")[0]: c for c in chunks}
    assert by_text["## Canary ##"].heading_path == ("Deploys", "Canary")
    assert by_text["Freezes"].heading_path == ("Deploys", "Freezes")
    assert by_text["Freezes"].line_start == MARKDOWN.split("\n").index("Freezes") + 1


RST = """\
=============
 Operations
=============

Intro text.

Backups
=======

Nightly.

Restores
--------

Monthly drills.

----------

After a transition.

Paging
======

Call someone.
"""


def test_rst_titles_and_levels(tmp_path: Path) -> None:
    doc = load_text(tmp_path, "ops.rst", RST)
    assert doc.kind == "rst"
    assert doc.title == "Operations"
    assert_sections_tile(doc)
    assert headings(doc) == [
        (("Operations",), "============="),
        (("Operations", "Backups"), "Backups"),
        (("Operations", "Backups", "Restores"), "Restores"),
        (("Operations", "Paging"), "Paging"),
    ]


HTML = """\
<!DOCTYPE html>
<html><head>
<meta charset="utf-8">
<title>Release &amp; notes</title>
<style>h1 { color: red; }</style>
<script>document.write("<h1>fake</h1>");</script>
</head>
<body>
<nav>Home</nav>
<h1>Notes  <small>v3</small></h1>
<p>First   paragraph
spans lines &lt;ok&gt; &copy;&nbsp;2024.</p>
<template><p>hidden template</p></template>
<noscript>enable js</noscript>
<svg><title>icon title</title><text>svg text</text></svg>
<h2>Install</h2>
<ul><li>one</li><li>two</li></ul>
<pre>  keep   spaces
    here</pre>
<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>
<h3>Linux</h3>
<div>apt<br>install</div>
<h2>Use</h2>
<p>Run it.</p>
<!-- a comment -->
</body></html>
"""


def test_html_visible_text_only(tmp_path: Path) -> None:
    doc = load_text(tmp_path, "notes.html", HTML)
    assert doc.kind == "html"
    assert doc.title == "Release & notes"
    assert doc.text == (
        "Home\n\n"
        "Notes v3\n\n"
        "First paragraph spans lines <ok> ©\xa02024.\n\n"
        "Install\n\n"
        "one\ntwo\n\n"
        "  keep   spaces\n    here\n\n"
        "a b\nc d\n\n"
        "Linux\n\n"
        "apt\ninstall\n\n"
        "Use\n\n"
        "Run it.\n"
    )
    for hidden in (
        "color",
        "fake",
        "template",
        "enable js",
        "icon",
        "svg text",
        "comment",
    ):
        assert hidden not in doc.text


def test_html_headings_become_sections(tmp_path: Path) -> None:
    doc = load_text(tmp_path, "notes.html", HTML)
    assert_sections_tile(doc)
    assert headings(doc) == [
        ((), "Home"),
        (("Notes v3",), "Notes v3"),
        (("Notes v3", "Install"), "Install"),
        (("Notes v3", "Install", "Linux"), "Linux"),
        (("Notes v3", "Use"), "Use"),
    ]


def test_html_without_title_uses_the_first_h1_and_survives_a_missing_head_end(
    tmp_path: Path,
) -> None:
    doc = load_text(
        tmp_path, "a.htm", "<html><head><style>x</style><body><h1>Top</h1><p>Body</p>"
    )
    assert doc.title == "Top"
    assert doc.text == "Top\n\nBody\n"


def test_html_meta_charset_is_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "old.html"
    path.write_bytes(
        b'<html><head><meta charset="windows-1252"></head><body><p>\x93quoted\x94</p>'
    )
    assert load(path).text == "\u201cquoted\u201d\n"
    assert "windows-1252" in caplog.text


def test_html_with_no_visible_text_is_empty(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="empty"):
        load_text(
            tmp_path,
            "a.html",
            "<html><head><title>T</title></head><body> </body></html>",
        )


PYTHON = '''\
"""Module docstring."""

import os

CONSTANT = 1


@decorator
# comment about foo
def foo():
    return 1


class Bar:
    def method(self):
        pass


async def baz():
    pass

if __name__ == "__main__":
    foo()
'''


def test_python_sections_at_top_level_definitions(tmp_path: Path) -> None:
    doc = load_text(tmp_path, "mod.py", PYTHON)
    assert doc.kind == "code"
    assert_sections_tile(doc)
    assert headings(doc) == [
        ((), '"""Module docstring."""'),
        (("foo",), "@decorator"),
        (("Bar",), "class Bar:"),
        (("baz",), "async def baz():"),
    ]


def test_javascript_go_and_rust_sections(tmp_path: Path) -> None:
    js = load_text(
        tmp_path,
        "a.ts",
        "import x from 'y';\n\n/** Adds. */\n"
        "export function add(a, b) {\n  return a + b;\n}\n\n"
        "export const handler = async (req) => {\n};\n\nconst n = 3;\n\nclass Box {}\n",
    )
    assert [s.heading_path for s in js.sections] == [
        (),
        ("add",),
        ("handler",),
        ("Box",),
    ]
    assert js.text[js.sections[1].start :].startswith("/** Adds. */")
    go = load_text(
        tmp_path,
        "a.go",
        "package m\n\n// Run runs.\nfunc (s *S) Run() {}\n\ntype T struct{}\n",
    )
    assert [s.heading_path for s in go.sections] == [(), ("Run",), ("T",)]
    rust = load_text(
        tmp_path,
        "a.rs",
        "use std;\n\n#[derive(Debug)]\npub struct P;\n\nfn main() {}\n",
    )
    assert [s.heading_path for s in rust.sections] == [(), ("P",), ("main",)]


def test_other_code_is_one_section(tmp_path: Path) -> None:
    doc = load_text(tmp_path, "q.sql", "SELECT 1;\n")
    assert (doc.kind, doc.sections) == ("code", ())


def test_plain_text_and_files_without_extension(tmp_path: Path) -> None:
    doc = load_text(tmp_path, "README", "Plain words.\r\nSecond line.\r\n")
    assert (doc.kind, doc.text, doc.sections, doc.title) == (
        "text",
        "Plain words.\nSecond line.\n",
        (),
        None,
    )
