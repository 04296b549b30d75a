"""report.html: parsed as plain HTML everywhere, and rendered in a real headless Chromium
where one is installed (Debian's ``chromium`` and ``chromium-driver``; ``.ci/run`` installs
them): the plots must load and show, the tables must show and sort on a click."""

from __future__ import annotations

import base64
import io
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tasklab.report.compare import main
from tests.compare_fixtures import mtl_sweep, transfer_sweep


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.tables: list[dict] = []
        self.links: list[str] = []
        self.scripts_with_src = 0
        self._cell: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if tag == "img":
            self.images.append(attributes.get("src", ""))
        if tag == "table":
            self.tables.append({"id": attributes.get("id"), "headers": [], "rows": 0})
        if tag == "th":
            self._cell = "th"
        if tag == "tr" and self.tables:
            self.tables[-1]["rows"] += 1
        if tag == "script" and "src" in attributes:
            self.scripts_with_src += 1
        for name in ("href", "src"):
            if name in attributes and tag != "img":
                self.links.append(attributes[name])

    def handle_data(self, data: str) -> None:
        if self._cell == "th":
            self.tables[-1]["headers"].append(data)
            self._cell = None


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sweeps")
    mtl_sweep(root / "mtl")
    transfer_sweep(root / "transfer")
    out = root / "compare"
    assert main(
        [str(root / "mtl"), str(root / "transfer"), "--out", str(out), "--wandb", "off"]
    ) in (0,)
    return out / "report.html"


def test_report_is_self_contained_html_with_plots_and_tables(report):
    text = report.read_text()
    parser = _Collector()
    parser.feed(text)
    # per experiment and metric: the learning curves and the paired differences
    assert len(parser.images) == 4
    for src in parser.images:
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix)
        assert base64.b64decode(src[len(prefix) :])[:4] == b"\x89PNG"
    ids = {t["id"] for t in parser.tables}
    assert {"summary-0", "comparisons-0", "delta_m-0", "crossovers-0"} <= ids
    assert {"summary-1", "transfer-1", "problems-table"} <= ids
    summary = next(t for t in parser.tables if t["id"] == "summary-0")
    assert summary["headers"][:3] == ["metric", "arm", "data.n_train"] and summary["rows"] == 7
    # nothing outside the file: in-page anchors (the answer's links to each experiment) only
    assert [link for link in parser.links if not link.startswith("#")] == []
    assert parser.scripts_with_src == 0
    # the answer comes first: before the conventions, the warnings and every table
    answer = text.index("<h2>The answer</h2>")
    assert answer < text.index("How to read the numbers") < text.index("<table")
    assert "http://" not in text and "https://" not in text and "url(" not in text


def _chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


_NO_BROWSER = pytest.mark.skipif(
    _chromium() is None,
    reason="no headless Chromium here (install Debian's chromium and chromium-driver to run it)",
)


@contextmanager
def _browser(tmp_path: Path, monkeypatch, width: int, height: int) -> Iterator[object]:
    """A headless Chromium window of ``width`` x ``height`` through Selenium, offline."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # never let Selenium Manager look for downloads
    browser, driver_path = _chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--force-device-scale-factor=1",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.mark.browser
@_NO_BROWSER
def test_report_renders_in_headless_chromium(report, tmp_path, monkeypatch):
    from selenium.webdriver.common.by import By

    with _browser(tmp_path, monkeypatch, 1280, 2000) as driver:
        driver.get(report.as_uri())
        images = driver.find_elements(By.TAG_NAME, "img")
        assert len(images) == 4
        for image in images:
            assert image.is_displayed()
            size = driver.execute_script(
                "return [arguments[0].complete, arguments[0].naturalWidth,"
                " arguments[0].getBoundingClientRect().width]",
                image,
            )
            assert size[0] and size[1] > 300 and size[2] > 300  # decoded and laid out
        answer = driver.find_element(By.ID, "answer")  # on the first screen of a laptop
        top, height = driver.execute_script(
            "var r = arguments[0].getBoundingClientRect(); return [r.top, r.height]", answer
        )
        assert answer.is_displayed() and top + min(height, 200) < 800
        assert "better than" in answer.text or "No difference shown" in answer.text
        table = driver.find_element(By.ID, "summary-0")
        assert table.is_displayed()
        rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
        assert len(rows) == 6 and all(row.is_displayed() for row in rows)
        mean_header = next(th for th in table.find_elements(By.TAG_NAME, "th") if th.text == "mean")
        column = [th.text for th in table.find_elements(By.TAG_NAME, "th")].index("mean")

        def means() -> list[float]:
            cells = table.find_elements(By.CSS_SELECTOR, f"tbody td:nth-child({column + 1})")
            return [float(cell.text) for cell in cells]

        mean_header.click()
        assert means() == sorted(means()) and mean_header.get_attribute("aria-sort") == "ascending"
        mean_header.click()
        assert means() == sorted(means(), reverse=True)
        external = driver.execute_script(
            "return performance.getEntriesByType('resource')"
            ".map(e => e.name).filter(n => !n.startsWith('data:'))"
        )
        assert external == []
        assert os.path.getsize(report) > 10_000


@pytest.mark.browser
@_NO_BROWSER
def test_a_laptops_first_screen_shows_the_answer(report, tmp_path, monkeypatch):
    """A screenshot of what a 1280 x 800 window shows before any scrolling: the answer's
    heading and its first verdict are in view and drawn (ink in their boxes), not methodology."""
    from PIL import Image
    from selenium.webdriver.common.by import By

    with _browser(tmp_path, monkeypatch, 1280, 800) as driver:
        driver.get(report.as_uri())
        shot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("L")
        shot.save(tmp_path / "first_screen.png")  # kept beside the test's files for a look
        width, height = driver.execute_script("return [innerWidth, innerHeight]")
        assert shot.size == (width, height)
        heading = driver.find_element(By.CSS_SELECTOR, "#answer h2")
        first_verdict = driver.find_element(By.CSS_SELECTOR, "#answer li")
        assert heading.text == "The answer"
        assert " better than " in first_verdict.text and "[" in first_verdict.text

        def box(element) -> tuple[int, int, int, int]:
            r = element.rect  # page coordinates; the page is not scrolled
            return (int(r["x"]), int(r["y"]), int(r["x"] + r["width"]), int(r["y"] + r["height"]))

        for element in (heading, first_verdict):
            left, top, right, bottom = box(element)
            assert 0 <= left < right <= width and 0 <= top < bottom <= height, box(element)
            pixels = list(shot.crop((left, top, right, bottom)).getdata())
            ink = sum(1 for p in pixels if p < 128) / len(pixels)
            assert ink > 0.02, f"{element.text[:40]!r} is in view but nothing is drawn there"
        # what the first screen shows is mostly the answer, not what precedes it
        answer = driver.find_element(By.ID, "answer")
        assert answer.rect["y"] < 0.25 * height
