"""`python -m analytics report` on the scripted week: the table shows the figures the figure
tests check, and the four plots are written as PNG files."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from analytics.__main__ import main
from analytics.report import PLOTS
from analytics.store import AnalyticsStore
from tests.analytics.script import WEEK_END, records_of, the_week


@pytest.fixture
def seeded(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'analytics.db'}"

    async def seed() -> None:
        store = AnalyticsStore(url)
        await store.add(records_of(the_week()))
        await store.close()
    asyncio.run(seed())
    return url


def run_report(seeded: str, out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["--db", seeded, "report", "--since", "7d", "--now", str(WEEK_END),
                 "--recontact-days", "3", "--out", str(out)])
    assert code == 0
    return capsys.readouterr().out


def test_the_table_shows_the_weeks_figures(seeded: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = run_report(seeded, tmp_path / "out", capsys)

    def row(name: str) -> list[str]:  # the cells after the row's name: all, then each channel
        return next(line for line in out.splitlines() if line.startswith(name))[len(name):].split()

    assert row("Containment")[:5] == ["57.1%", "0.0%", "0.0%", "0.0%", "100.0%"]
    assert row("First-contact resolution*")[:3] == ["66.7%", "of", "6"]
    assert row("Fallback rate")[0] == "20.0%"
    assert row("CSAT average (1-5)")[0] == "4.50"
    assert "Escalations by trigger: customer_request 2 (28.6%), repeated_fallback 1 (14.3%)" in out


def test_the_four_plots_are_png_files(seeded: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    run_report(seeded, tmp_path / "out", capsys)
    for name in PLOTS:
        data = (tmp_path / "out" / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000, name


def test_a_period_is_a_number_and_a_unit() -> None:
    with pytest.raises(SystemExit):
        main(["report", "--since", "a week"])
