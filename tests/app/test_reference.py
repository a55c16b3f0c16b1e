"""The README's API reference matches ``ragkit.__all__``, the signatures and docstrings.

The reference is the part of ``README.md`` between ``<!-- api-reference:start -->``
and ``<!-- api-reference:end -->``. Each entry is one line::

    - `ragkit.Index.add(texts_or_documents, *, metadata=None, ...)` — Summary.

Run ``python tests/app/test_reference.py`` to print the entries as they
should read.
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path
from typing import Any

import ragkit
import ragkit.pipeline
import ragkit.query
import ragkit.store

ROOT = Path(__file__).resolve().parents[2]
START, END = "<!-- api-reference:start -->", "<!-- api-reference:end -->"

MEMBERS = {
    "Index": [
        "open",
        "create",
        "memory",
        "preview",
        "add",
        "add_files",
        "delete",
        "search",
        "ask",
        "ask_stream",
        "chat",
        "stats",
        "close",
        "aadd",
        "aadd_files",
        "adelete",
        "asearch",
        "aask",
        "aask_stream",
        "aclose",
        "path",
        "writable",
        "closed",
        "manifest",
        "chat_model",
        "options",
    ],
    "ChatSession": [
        "ask",
        "ask_stream",
        "aask",
        "aask_stream",
        "reset",
        "history",
        "sources",
    ],
    "Pipeline": ["load", "run", "with_embedding"],
    "QueryEngine": ["open"],
    "AddReport": ["to_dict"],
    "IngestReport": ["to_dict"],
    "Answer": ["verified_citations"],
}
"""Members listed under their class, in this order, besides every top-level name."""

ENTRY = re.compile(
    r"^- `(?P<name>ragkit(?:\.\w+)+)(?P<signature>\(.*\))?` — (?P<summary>.+)$"
)


def resolve(dotted: str) -> Any:
    obj: Any = ragkit
    for part in dotted.split(".")[1:]:
        obj = (
            inspect.getattr_static(obj, part)
            if inspect.isclass(obj)
            else getattr(obj, part)
        )
        if isinstance(obj, classmethod | staticmethod):
            obj = obj.__func__
    return obj


def signature_of(obj: Any) -> str | None:
    """The signature as the reference writes it: no annotations, no ``self``."""
    if isinstance(obj, property) or not callable(obj):
        return None
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return None
    parameters = [
        p.replace(annotation=inspect.Parameter.empty, default=_shown(p.default))
        for p in signature.parameters.values()
        if p.name not in ("self", "cls")
    ]
    plain = signature.replace(
        parameters=parameters, return_annotation=inspect.Signature.empty
    )
    return str(plain)


class _Named:
    """A default shown by the name of the constant it is (long prompts)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


def _shown(default: object) -> object:
    if not isinstance(default, str) or len(default) <= 40:
        return default
    for module in (ragkit.query, ragkit.pipeline, ragkit.store):
        for name in module.__all__:
            if name.isupper() and getattr(module, name) is default:
                return _Named(name)
    return _Named("...")


def summary_of(obj: Any) -> str | None:
    """The first line of the docstring, its reST roles turned into Markdown code."""
    if isinstance(obj, property):
        obj = obj.fget
    if not (callable(obj) or inspect.isclass(obj)):
        return None
    doc = inspect.getdoc(obj)
    if not doc:
        return None
    line = doc.strip().splitlines()[0]
    line = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", line)
    return line.replace("``", "`")


def expected_entries() -> list[str]:
    lines = []
    for name in ragkit.__all__:
        for dotted in [f"ragkit.{name}"] + [
            f"ragkit.{name}.{member}" for member in MEMBERS.get(name, [])
        ]:
            obj = resolve(dotted)
            signature = signature_of(obj) or ""
            summary = summary_of(obj) or DESCRIPTIONS[dotted]
            lines.append(f"- `{dotted}{signature}` — {summary}")
    return lines


DESCRIPTIONS = {
    "ragkit.AnswerEvent": "What a streamed answer yields: "
    "AnswerDelta pieces, perhaps an AnswerRetry, then the final Answer.",
    "ragkit.__version__": "The installed ragkit version.",
}
"""Summaries of names that carry no docstring of their own (an alias, a string)."""


def reference_text() -> str:
    """The reference section as it stands in the README."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert START in text and END in text, f"README.md lost its {START} / {END} markers"
    return text.split(START, 1)[1].split(END, 1)[0]


def listed_entries() -> list[str]:
    return [line for line in reference_text().splitlines() if line.startswith("- `")]


def test_every_entry_is_well_formed() -> None:
    entries = listed_entries()
    assert entries
    for line in entries:
        assert ENTRY.match(line), line


def test_the_reference_lists_every_public_name() -> None:
    names = {ENTRY.match(line).group("name") for line in listed_entries()}  # type: ignore[union-attr]
    top_level = {name.split(".")[1] for name in names if name.count(".") == 1}
    assert top_level == set(ragkit.__all__)


def test_signatures_and_summaries_match_the_code() -> None:
    assert listed_entries() == expected_entries()


def test_every_public_name_and_member_has_a_docstring() -> None:
    for line in expected_entries():
        name = ENTRY.match(line).group("name")  # type: ignore[union-attr]
        if name not in DESCRIPTIONS:
            assert summary_of(resolve(name)), name


if __name__ == "__main__":
    sys.stdout.write("\n".join(expected_entries()) + "\n")
