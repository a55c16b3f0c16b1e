"""Untrusted text on the way to a terminal: clean(), one_line(), echo_json()."""

import json

import pytest

from ragkit.cli._output import clean, echo_json, one_line


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("ok\x1b[2Jdone\x07", "ok[2Jdone"),  # ESC and BEL go: the rest is inert
        ("a\x9b31mb", "a31mb"),  # C1 CSI
        ("line one\nline two\tcol", "line one\nline two\tcol"),  # text keeps lines
        ("invoice\u202egpj.exe", "invoicegpj.exe"),  # right-to-left override
        ("caf\udce9", "caf"),  # an undecodable byte cannot be written at all
    ],
)
def test_clean_drops_what_a_terminal_would_act_on(raw: str, shown: str) -> None:
    assert clean(raw) == shown


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("docs/guide.md", "docs/guide.md"),
        ("notes\nIndexed 999 file(s).md", "notes\\nIndexed 999 file(s).md"),
        ("a\rb", "a\\rb"),
        ("title\x1b]0;pwned\x07.md", "title\\x1b]0;pwned\\x07.md"),
        ("invoice\u202egpj.exe", "invoice\\u202egpj.exe"),
        ("caf\udce9.txt", "caf\\xe9.txt"),
        ("日本語 ✓.md", "日本語 ✓.md"),
    ],
)
def test_one_line_escapes_visibly_and_keeps_ordinary_unicode(
    raw: str, shown: str
) -> None:
    assert one_line(raw) == shown
    assert "\n" not in one_line(raw) and "\r" not in one_line(raw)


def test_echo_json_escapes_controls_and_round_trips(
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = {"path": "a\nb\x9b\u202e\udce9 é", "n": [1, 2]}
    echo_json(data)
    out = capsys.readouterr().out
    assert json.loads(out) == data
    assert "é" in out  # readable, not \u00e9
    for char in ("\x9b", "\u202e"):
        assert char not in out
    assert "\\u009b" in out and "\\u202e" in out and "\\udce9" in out
