"""The reports index: what it lists and in which order, that every link leads to a file, and
that writing a report rebuilds it."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pipeline.config import load_settings
from pipeline.derive import refresh as analysis
from pipeline.ingest import ingest_files
from pipeline.report import produce
from pipeline.report.index import (
    IndexEntry,
    calendar_days,
    entry_from_report,
    read_entries,
    render_index,
    write_index,
)
from pipeline.report.model import render_json
from pipeline.report.palette import SEVERITY_COLOURS
from tests.test_report import DAY, make_report, scenario

NOW = datetime(2026, 10, 26, 6, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href") or "")
        if tag not in ("meta", "br"):  # void elements have no end tag
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


def _parse(page: str) -> _Links:
    p = _Links()
    p.feed(page)
    p.close()
    assert p.errors == [] and p.stack == []
    return p


def _entry(day: str, worst: str | None = None, athlete: str = "alex", **kw: int) -> IndexEntry:
    return IndexEntry(athlete, "Alex", date.fromisoformat(day), ("html", "md", "json"), worst, **kw)


def test_days_with_flags_come_first_newest_first_then_calendar_then_the_rest() -> None:
    entries = [
        _entry("2026-10-20", "alert", alerts=1, runs=1),
        _entry("2026-10-21", "info", infos=1, runs=1),
        _entry("2026-10-22"),
        _entry("2026-10-25", "warning", warnings=2, runs=2),
        _entry("2026-10-24"),
    ]
    page = render_index(entries, generated_at=NOW)
    _parse(page)
    flagged = page[page.index("Days with flags (3)") : page.index("Last 6 weeks")]
    order = [m.group(1) for m in re.finditer(r'class="day" href="alex/([\d-]+)\.html"', flagged)]
    assert order == ["2026-10-25", "2026-10-21", "2026-10-20"]
    assert "2 warnings · 2 runs" in flagged and "1 alert · 1 run" in flagged
    quiet = page[page.index("Days without flags (2)") :]
    assert re.findall(r'href="alex/([\d-]+)\.html"', quiet) == ["2026-10-24", "2026-10-22"]
    assert page.index("Days with flags") < page.index('class="cal"') < page.index("Days without")


def test_calendar_is_whole_weeks_up_to_the_newest_report_and_colours_days_by_worst_flag() -> None:
    days = calendar_days(date(2026, 10, 25), 6)  # a Sunday
    assert len(days) == 42 and days[0].weekday() == 0 and days[-1] == date(2026, 10, 25)
    assert calendar_days(date(2026, 10, 21), 2) == [
        date(2026, 10, 12) + timedelta(days=i) for i in range(14)
    ]
    entries = [_entry("2026-10-20", "alert", alerts=1), _entry("2026-10-22")]
    page = render_index(entries, generated_at=NOW, weeks=2)
    cal = page[page.index('<div class="cal">') : page.index('<div class="cal-key">')]
    assert cal.count('class="cell') == 14
    assert cal.count("<a ") == 2  # only days with a report link anywhere
    assert f'style="background:{SEVERITY_COLOURS["alert"]}" href="alex/2026-10-20.html"' in cal
    assert 'class="cell none" href="alex/2026-10-22.html"' in cal
    assert 'title="Wed 21 Oct 2026: no report">21</span>' in cal


def test_athletes_get_a_section_each_and_names_are_escaped() -> None:
    entries = [
        _entry("2026-10-20", "alert", athlete="b&b", alerts=1),
        IndexEntry("a", "<Ann>", date(2026, 10, 1), ("md",)),
    ]
    page = render_index(entries, generated_at=NOW)
    _parse(page)
    assert "&lt;Ann&gt;" in page and "<Ann>" not in page
    assert page.index('id="athlete-a"') < page.index('id="athlete-b&amp;b"')
    assert 'href="b%26b/2026-10-20.html"' in page
    assert 'href="a/2026-10-01.md"' in page  # no HTML file: the day links to what there is
    assert "No reports written yet." in render_index([], generated_at=NOW)
    with pytest.raises(ValueError):
        render_index(entries, generated_at=NOW.replace(tzinfo=None))


def test_written_index_links_only_to_files_that_exist(tmp_path: Path) -> None:
    s = scenario()
    report = make_report(s)
    folder = tmp_path / "alex"
    folder.mkdir()
    (folder / f"{DAY}.json").write_text(render_json(report), encoding="utf-8")
    (folder / f"{DAY}.html").write_text("<html></html>", encoding="utf-8")
    quiet = make_report(s, flags=s["flags"].clear(), local_date=DAY - timedelta(days=3))
    for fmt in ("json", "md"):
        (folder / f"{quiet.date}.{fmt}").write_text(render_json(quiet), encoding="utf-8")
    (folder / "2026-10-01.html").write_text("<html></html>", encoding="utf-8")  # no JSON
    (folder / "2026-10-02.json").write_text("{not json", encoding="utf-8")
    (folder / "notes.txt").write_text("x", encoding="utf-8")
    (tmp_path / "stray.json").write_text("{}", encoding="utf-8")

    entries = {e.day.isoformat(): e for e in read_entries(tmp_path)}
    assert set(entries) == {"2026-10-25", "2026-10-22", "2026-10-01", "2026-10-02"}
    assert entries["2026-10-25"] == entry_from_report(report.to_json_dict(), ["json", "html"])
    assert entries["2026-10-25"].worst_severity == "alert" and entries["2026-10-25"].infos == 1
    assert entries["2026-10-22"].formats == ("md", "json") and not entries["2026-10-22"].flagged
    assert not entries["2026-10-01"].readable and not entries["2026-10-02"].readable

    path = write_index(tmp_path, generated_at=NOW)
    assert path == tmp_path / "index.html"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    hrefs = [h for h in _parse(path.read_text(encoding="utf-8")).hrefs if not h.startswith("#")]
    assert hrefs and all((tmp_path / h).is_file() for h in hrefs)
    assert {h.split("/")[1].split(".")[0] for h in hrefs} == set(entries)


def test_read_entries_of_a_missing_folder_is_empty(tmp_path: Path) -> None:
    assert read_entries(tmp_path / "nope") == []


def test_producing_a_report_rebuilds_the_index(tmp_path: Path, sample_dir: Path) -> None:
    settings = load_settings(
        env={}, cwd=ROOT, config=sample_dir / "legday.toml", db=tmp_path / "s.duckdb"
    )
    picked = sorted(sample_dir.glob("2026-10-19-*.fit")) + sorted(
        sample_dir.glob("2026-10-20-*.fit")
    )
    inbox = tmp_path / "in"
    inbox.mkdir()
    for p in picked:
        shutil.copyfile(p, inbox / p.name)
    athlete = settings.default_athlete
    now = datetime(2026, 10, 21, 6, 0, tzinfo=UTC)
    ingest_files(settings.db_path, [(p, athlete) for p in sorted(inbox.iterdir())], now=now)
    analysis.refresh_store(settings, now=now)
    out = tmp_path / "reports"
    first = produce.produce_report(
        settings, athlete, date(2026, 10, 19), generated_at=now, out_dir=out
    )
    assert first.paths["index"] == out / "index.html"
    assert "sam/2026-10-19.html" in first.paths["index"].read_text(encoding="utf-8")
    produce.produce_report(settings, athlete, date(2026, 10, 20), generated_at=now, out_dir=out)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "Days with flags (1)" in page  # 20 Oct: intervals the morning after a leg day
    assert re.findall(r'class="day" href="sam/([\d-]+)\.html"', page) == ["2026-10-20"]
    assert 'href="sam/2026-10-19.html"' in page[page.index("Days without flags (1)") :]


def test_concurrent_rebuilds_leave_one_whole_index(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    folder = tmp_path / "alex"
    folder.mkdir()
    for i in range(1, 8):
        (folder / f"2026-10-0{i}.html").write_text("<html></html>", encoding="utf-8")
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: write_index(tmp_path, generated_at=NOW), range(16)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alex", "index.html"]
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert page.endswith("</html>\n") and page.count('href="alex/2026-10-0') == 14
