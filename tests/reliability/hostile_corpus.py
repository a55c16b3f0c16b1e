"""Generators of corpora for the reliability suite: plain prose and hostile files.

Not a test module: the tests import it. Everything is seeded, so a corpus is
the same on every run and every machine.
"""

from __future__ import annotations

import os
import random
import stat
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pypdf import PdfReader, PdfWriter

from ragkit.documents import supported_extensions

_WORDS = (
    "archive backup cluster deploy encrypt failover gateway harbor index journal "
    "kernel ledger mirror network operator policy quorum replica snapshot tenant "
    "upgrade vault window zone rotation schedule incident review latency budget "
    "certificate storage region audit token service runbook escalation paging"
).split()


def prose(rng: random.Random, sentences: int) -> str:
    """Sentences of plain English-like words, with unique tokens to find them by."""
    out = []
    for _ in range(sentences):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 14))]
        words.append(f"w{rng.randrange(10**6):06d}")
        out.append(" ".join(words).capitalize() + ".")
    return " ".join(out)


def write_prose_corpus(
    root: Path, files: int, *, seed: int = 0, paragraphs: int = 3, sentences: int = 6
) -> list[Path]:
    """Write ``files`` Markdown and text files of prose under ``root``.

    Files spread over a few sub-folders so the walk has some depth.

    Returns:
        The paths written, in walk order.
    """
    rng = random.Random(seed)
    written = []
    for number in range(files):
        folder = root / f"part{number % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        if number % 2:
            path = folder / f"note{number:05d}.txt"
            body = "\n\n".join(prose(rng, sentences) for _ in range(paragraphs))
        else:
            path = folder / f"page{number:05d}.md"
            body = f"# Page {number}\n\n" + "\n\n".join(
                f"## Part {p}\n\n{prose(rng, sentences)}" for p in range(paragraphs)
            )
        path.write_text(body + "\n", encoding="utf-8")
        written.append(path)
    return sorted(written)


# -- PDF building ------------------------------------------------------------


def pdf_document(objects: list[bytes], *, root: int = 1) -> bytes:
    """A PDF file from object bodies (object ``n`` is ``objects[n - 1]``).

    Writes a correct cross-reference table, so that whatever is wrong with
    the file is exactly what the caller put in the objects.
    """
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\n" % (len(objects) + 1, root)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _stream(data: bytes, *, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
_RESOURCES = b"<< /Font << /F1 5 0 R >> >>"


def text_pdf(lines: Iterable[str]) -> bytes:
    """A one-page PDF whose page shows ``lines`` (ASCII) in Helvetica."""
    ops = [b"BT /F1 12 Tf 72 720 Td 14 TL"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(b"(" + escaped.encode("ascii") + b") Tj T*")
    ops.append(b"ET")
    content = b"\n".join(ops)
    return pdf_document(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources " + _RESOURCES + b" /Contents 4 0 R >>",
            _stream(content),
            _FONT,
        ]
    )


def encrypted_pdf(source: bytes, password: str) -> bytes:
    """``source`` encrypted with a user password (RC4, no extra packages)."""
    import io

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(source)).pages:
        writer.add_page(page)
    writer.encrypt(
        user_password=password, owner_password=password + "!", algorithm="RC4-128"
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def page_tree_pdf(fanout: int, depth: int) -> bytes:
    """A small file whose page tree holds ``fanout ** depth`` pages.

    Each level's ``/Kids`` names the next level's one node ``fanout`` times,
    so a few hundred bytes describe millions of pages.
    """
    # Objects: 1 catalog, 2..depth+1 the Pages levels, then the page, content, font.
    page = depth + 2
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for level in range(depth):
        number = 2 + level
        child = number + 1
        kids = b" ".join(b"%d 0 R" % child for _ in range(fanout))
        count = fanout ** (depth - level)
        parent = b"" if level == 0 else b"/Parent %d 0 R " % (number - 1)
        objects.append(
            b"<< /Type /Pages %s/Kids [%s] /Count %d >>" % (parent, kids, count)
        )
    objects.append(
        b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
        % (page - 1, page + 2, page + 1)
    )
    objects.append(_stream(b"BT /F1 12 Tf 72 720 Td (page) Tj ET"))
    objects.append(_FONT)
    return pdf_document(objects)


def nested_pdf(depth: int) -> bytes:
    """A PDF whose page resources hold arrays nested ``depth`` deep."""
    nested = b"[" * depth + b"0" + b"]" * depth
    return pdf_document(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 5 0 R >> /Deep " + nested + b" >> "
            b"/Contents 4 0 R >>",
            _stream(b"BT /F1 12 Tf 72 720 Td (deep) Tj ET"),
            _FONT,
        ]
    )


def flate_bomb_pdf(inflated_mb: int) -> bytes:
    """A PDF whose page content is a FlateDecode stream of ``inflated_mb`` MiB.

    The stream is spaces (valid, empty content operators), which compress
    about two hundred to one at level 1 (the fastest to build), so 256 MiB
    fit in a file of about 1.2 MiB.
    """
    packer = zlib.compressobj(1)
    block = b" " * (1 << 20)
    packed = [packer.compress(block) for _ in range(inflated_mb)]
    packed.append(packer.flush())
    data = b"".join(packed)
    return pdf_document(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources " + _RESOURCES + b" /Contents 4 0 R >>",
            _stream(data, extra=b"/Filter /FlateDecode "),
            _FONT,
        ]
    )


# -- the hostile corpus ------------------------------------------------------


@dataclass
class HostileCorpus:
    """What :func:`write_hostile_corpus` made, and what a run must do with it.

    Attributes:
        root: The folder to index.
        good: Relative paths of ordinary files that must be indexed.
        bad: Relative paths of files (and links) that must be skipped.
        either: Relative paths that may be indexed or skipped, but not lost.
        unreadable: Relative paths that only a process without root's
            permission override fails to read.
    """

    root: Path
    good: set[str] = field(default_factory=set)
    bad: set[str] = field(default_factory=set)
    either: set[str] = field(default_factory=set)
    unreadable: set[str] = field(default_factory=set)

    @property
    def all_paths(self) -> set[str]:
        """Every path a run must account for."""
        return self.good | self.bad | self.either | self.unreadable


def write_hostile_corpus(
    root: Path, *, seed: int = 6, big_mb: int = 100
) -> HostileCorpus:
    """Write a corpus of files built to break loaders, walkers and terminals.

    Args:
        root: An empty folder to fill.
        seed: Seed for the random bytes.
        big_mb: Size of the one oversized file (sparse: no disk is used).

    Returns:
        The corpus with the expected outcome of each path.
    """
    rng = random.Random(seed)
    corpus = HostileCorpus(root)
    root.mkdir(parents=True, exist_ok=True)

    def put(relpath: str, data: bytes, outcome: set[str]) -> Path:
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        outcome.add(relpath)
        return path

    # Ordinary neighbours: they must come through untouched.
    for number in range(6):
        put(
            f"good/doc{number}.md",
            f"# Doc {number}\n\n{prose(rng, 8)}\n".encode(),
            corpus.good,
        )
    put(
        "good/paper.pdf",
        text_pdf(["Harbor rotation policy", prose(rng, 1)[:80]]),
        corpus.good,
    )

    # Random bytes under every extension a loader claims. A NUL in the first
    # bytes makes every text loader call it binary; PDFs are simply broken.
    for extension in supported_extensions():
        name = f"random/noise{extension or '-noext'}"
        data = b"\x00" + rng.randbytes(rng.randint(64, 4096))
        put(name, data, corpus.bad)

    # Encodings: valid but unusual ones load; broken ones are skipped.
    put(
        "enc/latin1.txt",
        "Caf\xe9 cr\xe8me br\xfbl\xe9e, na\xefve fa\xe7ade.\n".encode("latin-1"),
        corpus.good,
    )
    put(
        "enc/utf16.txt",
        "\ufeffUTF-16 text with a byte order mark.\n".encode("utf-16-le"),
        corpus.good,
    )
    put("enc/utf16-odd.txt", b"\xff\xfeA\x00B\x00C", corpus.bad)
    put(
        "enc/utf8-bom-bad.md",
        b"\xef\xbb\xbf# Title\n\n\xc3\x28 invalid \xe2\x82\n" * 3,
        corpus.either,
    )
    put("enc/empty.txt", b"", corpus.bad)
    put("enc/blank.md", b" \n\n\t \n", corpus.bad)

    # PDFs: truncated, encrypted, a page tree of millions of pages, deep
    # nesting, and a compressed stream that inflates to hundreds of MiB.
    valid = text_pdf(["A valid page that will be cut short."])
    put("pdf/truncated.pdf", valid[: len(valid) * 3 // 5], corpus.either)
    put("pdf/encrypted.pdf", encrypted_pdf(valid, "hunter2"), corpus.bad)
    put("pdf/pages-millions.pdf", page_tree_pdf(fanout=200, depth=3), corpus.bad)
    put("pdf/nested.pdf", nested_pdf(50_000), corpus.either)
    put("pdf/flate-bomb.pdf", flate_bomb_pdf(256), corpus.either)
    put("pdf/not-a-pdf.pdf", b"%PDF-1.7\nthis is not a pdf at all\n", corpus.bad)

    # One file over the size limit, sparse so it costs no disk.
    big = root / "big" / "huge.txt"
    big.parent.mkdir()
    with open(big, "wb") as fh:
        fh.truncate(big_mb * 1024 * 1024)
    corpus.bad.add("big/huge.txt")

    # Names that attack the terminal or confuse Unicode handling. The
    # contents are binary so each is skipped and so printed by name.
    noise = b"\x00\x01\x02binary"
    for name in (
        "names/red\x1b[31mALERT\x1b[0m.txt",
        "names/two\nIndexed 999 file(s) into etc.txt",
        "names/bell\x07and\rreturn.txt",
        "names/csi\x9b2J.txt",
    ):
        put(name, noise, corpus.bad)
    for name in (
        "names/rtl-\u202etxt.exe.md",
        "names/zero\u200bwidth-\u00e9-e\u0301.md",
        "names/emoji-\U0001f600.txt",
    ):
        put(name, f"# Odd name\n\n{prose(rng, 3)}\n".encode(), corpus.good)
    # Walk hazards: link loops, a self-link, a link out of the root, a FIFO.
    (root / "links").mkdir()
    os.symlink("..", root / "links" / "up-loop")
    os.symlink("self", root / "links" / "self")
    os.symlink("/etc/hostname", root / "links" / "outside.txt")
    os.symlink("missing.md", root / "links" / "dangling.md")
    corpus.bad |= {
        "links/up-loop",
        "links/self",
        "links/outside.txt",
        "links/dangling.md",
    }
    os.mkfifo(root / "links" / "pipe.txt")
    corpus.bad.add("links/pipe.txt")

    # Permissions: root reads these anyway unless its override is dropped.
    locked = put("locked/secret.md", b"# Locked\n\nNobody may read this.\n", set())
    locked.chmod(0)
    closed = root / "closed"
    closed.mkdir()
    (closed / "inside.md").write_text("# Inside\n\nBehind a closed door.\n")
    closed.chmod(0)
    corpus.unreadable |= {"locked/secret.md", "closed"}
    return corpus


def write_undecodable_name(root: Path, rng: random.Random) -> str:
    """Write a Markdown file whose name is not UTF-8 (legal on Linux).

    Python sees such a name with surrogate escapes, which neither SQLite nor
    a UTF-8 terminal can take as they are.

    Returns:
        The file's path relative to ``root``, as Python spells it.
    """
    root.mkdir(parents=True, exist_ok=True)
    name = b"latin1-caf\xe9.md"
    with open(os.fsencode(root) + b"/" + name, "wb") as fh:
        fh.write(f"# Latin-1 name\n\n{prose(rng, 3)}\n".encode())
    return os.fsdecode(name)


def unlock(root: Path) -> None:
    """Give back the permissions the corpus took away, so it can be deleted."""
    for path in (root / "locked" / "secret.md", root / "closed"):
        if path.exists():
            mode = stat.S_IRWXU if path.is_dir() else stat.S_IRUSR | stat.S_IWUSR
            path.chmod(mode)
