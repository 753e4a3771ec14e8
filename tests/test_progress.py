"""Progress bars: tqdm's on a terminal, plain lines in a log."""

from __future__ import annotations

import io

from symescape.progress import LOG_INTERVAL, LineWriter, progress_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_line_writer_turns_redraws_into_lines_and_drops_blank_ones() -> None:
    out = io.StringIO()
    writer = LineWriter(out)
    for text in ("\rtraining: 1/10   ", "\r" + " " * 20, "\rtraining: 10/10", "\n"):
        assert writer.write(text) == len(text)
    assert out.getvalue() == "training: 1/10\ntraining: 10/10\n"


def test_a_bar_in_a_log_writes_whole_lines_with_the_rate_and_no_carriage_returns() -> None:
    log = io.StringIO()
    bar = progress_bar(total=5, desc="training", unit="step", file=log, leave=True)
    assert bar.mininterval >= LOG_INTERVAL
    for _ in range(5):
        bar.update()
    bar.close()
    text = log.getvalue()
    assert "\r" not in text and text.endswith("\n")
    assert "training: 5/5 [" in text and "step/s]" in text  # steps per second shown


def test_a_bar_on_a_terminal_is_tqdms_own() -> None:
    terminal = _Terminal()
    bar = progress_bar(total=3, desc="training", file=terminal, mininterval=0.5)
    assert bar.mininterval == 0.5
    bar.update(3)
    bar.close()
    assert "\r" in terminal.getvalue()
