"""Print what the image tests measured (sizes, times to ready) in pytest's summary."""

from __future__ import annotations


def pytest_terminal_summary(terminalreporter) -> None:
    from tests.images.test_images import report

    if report:
        terminalreporter.section("images")
        for line in report:
            terminalreporter.write_line(line)
