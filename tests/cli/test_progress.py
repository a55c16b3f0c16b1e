"""The progress renderer: a live bar on a terminal, sparse plain lines on a pipe."""

from __future__ import annotations

import io
import os

import pytest

from ragkit.cli._progress import Progress, format_bytes, format_duration


class FakeTerminal(io.StringIO):
    """A stream that says it is a terminal."""

    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


class FakePipe(io.StringIO):
    """A stream that says it is not a terminal."""

    encoding = "utf-8"

    def isatty(self) -> bool:
        return False


class Clock:
    """A hand-driven monotonic clock, so rates and intervals are exact."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _screen(raw: str) -> list[str]:
    """What a terminal would finally show: each \\r-redrawn line at its last state."""
    lines = []
    for line in raw.split("\n"):
        lines.append(line.split("\r\x1b[K")[-1])
    return lines


def _pull_layer(progress: Progress, clock: Clock, total: int, steps: int) -> None:
    for step in range(steps + 1):
        progress.update(total * step // steps, total, status="pulling 6a0746a1ec1a")
        clock.now += 1.0


def test_terminal_redraws_one_line_with_bar_bytes_rate_and_remaining() -> None:
    stream, clock = FakeTerminal(), Clock()
    progress = Progress(unit="B", stream=stream, clock=clock, width=100)
    assert progress.interactive
    progress.update(status="pulling manifest")
    progress.update(0, 2_000_000_000, status="pulling 6a0746a1ec1a")
    clock.now = 1.0
    progress.update(200_000_000)
    clock.now = 2.0
    progress.update(400_000_000)
    raw = stream.getvalue()
    assert "\r\x1b[K" in raw  # redrawn in place
    current = _screen(raw)[-1]
    assert current.startswith("pulling 6a0746a1ec1a   20% ▕")
    assert "400 MB/2 GB" in current
    assert "200 MB/s" in current
    assert current.endswith("8s")  # 1.6 GB left at 200 MB/s
    progress.close()
    assert stream.getvalue().endswith("\n")


def test_terminal_keeps_each_finished_status_on_its_own_line() -> None:
    stream, clock = FakeTerminal(), Clock()
    with Progress(unit="B", stream=stream, clock=clock, width=100) as progress:
        progress.update(status="pulling manifest")
        _pull_layer(progress, clock, 1_000_000, 4)
        progress.update(status="verifying sha256 digest")
        progress.update(status="success")
    lines = _screen(stream.getvalue())
    assert lines[0] == "pulling manifest"
    assert lines[1].startswith("pulling 6a0746a1ec1a  100% ▕████")
    assert "1 MB/1 MB" in lines[1]
    assert lines[2:] == ["verifying sha256 digest", "success", ""]


def test_terminal_throttles_redraws_but_always_draws_completion() -> None:
    stream, clock = FakeTerminal(), Clock()
    progress = Progress(total=1000, stream=stream, clock=clock, width=80)
    for done in range(1, 1001):
        progress.update(done)  # the clock never moves: one redraw window
    draws = stream.getvalue().count("\r\x1b[K")
    assert draws == 2  # the first update and the completed one
    assert "1000/1000" in _screen(stream.getvalue())[-1]
    progress.close()


def test_items_unit_counts_and_advance() -> None:
    stream, clock = FakeTerminal(), Clock()
    with Progress(
        total=40, unit="items", label="embedding", stream=stream, clock=clock, width=90
    ) as progress:
        for _ in range(10):
            clock.now += 0.5
            progress.advance()
        assert progress.completed == 10
        assert progress.rate == pytest.approx(2.0)
        assert progress.remaining == pytest.approx(15.0)
    line = _screen(stream.getvalue())[0]
    assert line.startswith("embedding   25% ")
    assert "10/40" in line
    assert "2 items/s" in line
    assert line.endswith("15s")


def test_message_prints_above_the_bar_and_redraws_it() -> None:
    stream, clock = FakeTerminal(), Clock()
    progress = Progress(total=10, label="indexing", stream=stream, clock=clock)
    progress.update(3)
    progress.message("skipped broken.pdf: not a PDF")
    lines = _screen(stream.getvalue())
    assert lines[0] == "skipped broken.pdf: not a PDF"
    assert lines[1].startswith("indexing   30%")
    progress.close()


def test_narrow_terminal_drops_the_bar() -> None:
    stream, clock = FakeTerminal(), Clock()
    with Progress(
        total=100, unit="B", label="pulling abc", stream=stream, clock=clock, width=40
    ) as progress:
        progress.update(50)
    line = _screen(stream.getvalue())[0]
    assert "▕" not in line
    assert line.startswith("pulling abc   50%")
    assert len(line) < 40


def test_pipe_writes_plain_lines_only_at_start_and_end_of_a_status() -> None:
    stream, clock = FakePipe(), Clock()
    progress = Progress(unit="B", stream=stream, clock=clock)
    assert not progress.interactive
    progress.update(status="pulling manifest")
    _pull_layer(progress, clock, 2_000_000_000, 5)  # 5 s: under plain_interval
    progress.update(status="success")
    progress.close()
    raw = stream.getvalue()
    assert "\r" not in raw and "\x1b" not in raw
    assert raw.splitlines() == [
        "pulling manifest",
        "pulling 6a0746a1ec1a: 0% (0 B/2 GB)",
        "pulling 6a0746a1ec1a: 100% (2 GB/2 GB)",
        "success",
    ]


def test_pipe_reports_long_work_at_most_every_interval() -> None:
    stream, clock = FakePipe(), Clock()
    progress = Progress(
        total=100, label="indexing", stream=stream, clock=clock, plain_interval=10
    )
    for done in range(101):
        progress.update(done)
        clock.now += 1.0
    progress.update(100)  # repeated completion is not printed twice
    progress.close()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "indexing: 0% (0/100)"
    assert lines[1] == "indexing: 10% (10/100)"
    assert lines[-1] == "indexing: 100% (100/100)"
    assert len(lines) == 11


def test_pipe_does_not_repeat_a_status_without_figures() -> None:
    stream, clock = FakePipe(), Clock()
    progress = Progress(stream=stream, clock=clock, plain_interval=1)
    for _ in range(5):
        progress.update(status="writing manifest")
        clock.now += 5
    progress.close()
    assert stream.getvalue() == "writing manifest\n"


def test_disabled_progress_writes_nothing_but_keeps_count() -> None:
    stream = FakeTerminal()
    with Progress(total=3, stream=stream, enabled=False) as progress:
        progress.advance(3)
        progress.message("hidden")
    assert stream.getvalue() == ""
    assert progress.fraction == 1.0


def test_default_stream_is_stderr_never_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with Progress(total=2, label="work", interactive=True) as progress:
        progress.advance(2)
        progress.message("note")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "work" in captured.err and "note" in captured.err


def test_dumb_terminal_gets_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "dumb")
    assert not Progress(stream=FakeTerminal()).interactive


def test_labels_are_cleaned_of_control_characters() -> None:
    stream = FakePipe()
    with Progress(stream=stream) as progress:
        progress.update(status="pulling \x1b[2Jevil\x07")
    assert stream.getvalue() == "pulling [2Jevil\n"


def test_ascii_stream_gets_an_ascii_bar() -> None:
    class AsciiTerminal(FakeTerminal):
        encoding = "ascii"

    stream = AsciiTerminal()
    with Progress(total=4, stream=stream, width=80) as progress:
        progress.update(2)
    line = _screen(stream.getvalue())[0]
    assert "[####" in line and "]" in line
    line.encode("ascii")


def test_a_broken_stream_disables_output_instead_of_failing() -> None:
    class Broken(FakePipe):
        def write(self, text: str) -> int:
            raise OSError("stderr is gone")

    progress = Progress(total=2, stream=Broken())
    progress.advance()
    progress.close()
    assert not progress.enabled


def test_updates_after_close_are_ignored() -> None:
    stream = FakePipe()
    progress = Progress(total=2, label="x", stream=stream)
    progress.close()
    progress.update(1)
    progress.close()
    assert stream.getvalue() == ""


def test_a_count_going_backwards_resets_the_rate() -> None:
    clock = Clock()
    progress = Progress(total=100, stream=FakePipe(), clock=clock)
    progress.update(50)
    clock.now = 1.0
    progress.update(60)
    assert progress.rate == pytest.approx(10.0)
    clock.now = 2.0
    progress.update(5)
    assert progress.rate is None


def test_unknown_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="unit"):
        Progress(unit="kg")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1 KB"),
        (1500, "1.5 KB"),
        (45_960_996, "45 MB"),
        (2_019_393_189, "2.0 GB"),
        (5_225_388_164, "5.2 GB"),
        (3 * 10**15, "3000 TB"),
    ],
)
def test_format_bytes(count: int, text: str) -> None:
    assert format_bytes(count) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59.4, "59s"), (60, "1m00s"), (185, "3m05s"), (7620, "2h07m")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_a_terminal_reporting_zero_columns_gets_the_whole_bar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 0 columns means the size is unknown (`script`, serial consoles, some CI).
    monkeypatch.setattr(
        "ragkit.cli._progress.os.get_terminal_size",
        lambda fd: os.terminal_size((0, 0)),
    )
    stream, clock = FakeTerminal(), Clock()
    stream.fileno = lambda: 2  # type: ignore[method-assign]
    progress = Progress(unit="B", stream=stream, clock=clock)
    progress.update(0, 1_000_000_000, status="pulling 6a0746a1ec1a")
    clock.now = 1.0
    progress.update(100_000_000)
    current = _screen(stream.getvalue())[-1]
    assert current.startswith("pulling 6a0746a1ec1a   10% ▕")
    assert "100 MB/1 GB" in current
    progress.close()
