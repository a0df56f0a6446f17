"""The web page end to end: `emotag serve` with the shipped model, driven in headless Chromium.

Unit tests of the API cannot tell whether the page actually renders what the API returns (bars,
threshold marks, highlighted words, error messages), so these tests type into the real page in a
real browser against the real server and model. They need Debian's ``chromium`` and
``chromium-driver`` (``.ci/run`` installs them) and are skipped, with the reason, only when the
browser or its driver cannot be found.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from emotag.labels import GOEMOTIONS_LABELS, taxonomy_groups
from emotag.resources import default_model_dir
from local_server import ServerStartError, local_server

pytestmark = pytest.mark.slow

MODEL_DIR = default_model_dir()
SENTENCE = "Thank you so much, this is wonderful!"
WAIT_S = 60  # generous: CI machines with 2 busy cores run the int8 model slowly


def _find(*candidates: str) -> str | None:
    """The first candidate that is an executable on PATH or an existing file."""
    for name in candidates:
        found = shutil.which(name) or (name if os.path.isfile(name) else None)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """A headless Chromium driven through selenium; skipped when no browser is installed."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    chrome = _find(os.environ.get("EMOTAG_CHROMIUM", ""), "chromium", "chromium-browser",
                   "google-chrome")
    driver_path = _find(os.environ.get("EMOTAG_CHROMEDRIVER", ""), "chromedriver",
                        "/usr/lib/chromium/chromedriver")
    if chrome is None or driver_path is None:
        missing = [n for n, p in (("chromium", chrome), ("chromedriver", driver_path)) if not p]
        pytest.skip(f"{' and '.join(missing)} not found "
                    "(apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1024,1400", "--no-first-run", "--disable-extensions",
                "--disable-background-networking"):
        options.add_argument(arg)
    from selenium.webdriver.chrome.service import Service

    # an explicit driver path keeps Selenium Manager from trying to download one
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """`emotag serve models/default` on a free 127.0.0.1 port, in a subprocess."""
    env = {"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    try:
        with local_server(MODEL_DIR, env=env, timeout=120) as url:
            yield url
    except ServerStartError as e:
        pytest.fail(str(e))


def _by(css: str) -> tuple[str, str]:
    return ("css selector", css)  # selenium's By.CSS_SELECTOR, without importing it here


def _wait(driver: object, condition: object, timeout: float = WAIT_S) -> object:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def _open(driver: object, url: str) -> None:
    """Load the page fresh and wait until its script is ready (the form exists)."""
    driver.get(url + "/")
    _wait(driver, lambda d: d.find_elements(*_by("#text-input")))


def _results_state(driver: object) -> tuple[str | None, str | None]:
    box = driver.find_element(*_by('[data-testid="results"]'))
    return box.get_attribute("data-state"), box.get_attribute("data-taxonomy")


def _wait_done(driver: object, taxonomy: str) -> None:
    """Wait until the page has rendered an answer for ``taxonomy`` (or fail on a shown error)."""

    def done(d: object) -> bool:
        state, tax = _results_state(d)
        if state == "error":
            raise AssertionError(d.find_element(*_by('[data-testid="error"]')).text)
        return state == "done" and tax == taxonomy

    _wait(driver, done)


def _predicted(driver: object) -> list[str]:
    return [e.text for e in driver.find_elements(*_by('[data-testid="predicted-label"]'))]


def _bars(driver: object) -> dict[str, dict[str, float | bool]]:
    rows = driver.find_elements(*_by('[data-testid="score-bar"]'))
    return {r.get_attribute("data-label"): {
        "score": float(r.get_attribute("data-score")),
        "threshold": float(r.get_attribute("data-threshold")),
        "predicted": r.get_attribute("data-predicted") == "true",
    } for r in rows}


def _type_and_submit(driver: object, text: str, *, ctrl_enter: bool = False) -> None:
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element(*_by('[data-testid="text-input"]'))
    box.clear()
    box.send_keys(text)
    if ctrl_enter:
        box.send_keys(Keys.CONTROL, Keys.ENTER)
    else:
        driver.find_element(*_by('[data-testid="submit"]')).click()


def test_page_shows_labels_bars_and_explanations(browser: object, server_url: str) -> None:
    """A grateful sentence: gratitude predicted, 28 bars, threshold marks, green words."""
    _open(browser, server_url)
    _type_and_submit(browser, SENTENCE, ctrl_enter=True)
    _wait_done(browser, "goemotions")

    predicted = _predicted(browser)
    assert "gratitude" in predicted, predicted
    bars = _bars(browser)
    assert set(bars) == set(GOEMOTIONS_LABELS)
    # the highlighted labels are exactly the bars at or over their threshold mark
    assert {k for k, v in bars.items() if v["predicted"]} == set(predicted)
    for name in predicted:
        assert bars[name]["score"] >= bars[name]["threshold"] > 0
    # thresholds are the model's tuned per-label ones, not one shared value
    assert len({v["threshold"] for v in bars.values()}) > 1
    ticks = browser.find_elements(*_by('[data-testid="score-bar"] .bar-threshold'))
    assert len(ticks) == 28 and all(t.is_displayed() for t in ticks)

    gratitude = browser.find_element(*_by('[data-testid="explanation"][data-label="gratitude"]'))
    spans = gratitude.find_elements(*_by('[data-testid="explain-span"]'))
    assert spans, "no highlighted words for gratitude"
    up = [s.text for s in spans if float(s.get_attribute("data-weight")) > 0]
    assert up and all(word and word in SENTENCE for word in up), up
    assert all("up" in s.get_attribute("class") for s in spans
               if float(s.get_attribute("data-weight")) > 0)
    # the explained text reads exactly as typed: spans only wrap words, never move them
    assert gratitude.find_element(*_by(".explained-text")).text == SENTENCE

    # screen readers get one summary line and meters with values, not just coloured boxes
    status = browser.find_element(*_by('[role="status"]')).get_attribute("textContent")
    assert status.startswith("Predicted:") and "gratitude" in status
    meter = browser.find_element(*_by('[data-label="gratitude"] [role="meter"]'))
    assert float(meter.get_attribute("aria-valuenow")) == pytest.approx(
        bars["gratitude"]["score"], abs=1e-3)
    assert "predicted" in meter.get_attribute("aria-valuetext")
    labelled_by = browser.find_element(*_by("#" + meter.get_attribute("aria-labelledby")))
    assert labelled_by.text == "gratitude"


@pytest.mark.parametrize("taxonomy", ["ekman", "sentiment"])
def test_taxonomy_tabs_regroup_the_scores(browser: object, server_url: str,
                                          taxonomy: str) -> None:
    """The Ekman and sentiment tabs re-ask the API and draw one bar per group."""
    _open(browser, server_url)
    _type_and_submit(browser, SENTENCE)
    _wait_done(browser, "goemotions")
    tab = browser.find_element(*_by(f'[role="tab"][data-taxonomy="{taxonomy}"]'))
    tab.click()
    _wait_done(browser, taxonomy)

    assert tab.get_attribute("aria-selected") == "true"
    assert set(_bars(browser)) == set(taxonomy_groups(taxonomy))
    expected = {"ekman": "joy", "sentiment": "positive"}[taxonomy]
    assert expected in _predicted(browser)


def test_page_fits_a_phone_screen(browser: object, server_url: str) -> None:
    """At 360 CSS pixels nothing overflows sideways and the bars stay visible."""
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 360, "height": 740, "deviceScaleFactor": 2, "mobile": True})
    try:
        _open(browser, server_url)
        _type_and_submit(browser, SENTENCE)
        _wait_done(browser, "goemotions")
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
        assert overflow <= 0
        track = browser.find_element(*_by('[data-label="gratitude"] .bar-track'))
        assert track.size["width"] >= 150  # a bar long enough to read a threshold mark on
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_empty_text_is_refused_in_the_page(browser: object, server_url: str) -> None:
    _open(browser, server_url)
    browser.find_element(*_by('[data-testid="submit"]')).click()
    error = browser.find_element(*_by('[data-testid="error"]'))
    _wait(browser, lambda d: error.is_displayed())
    assert "text" in error.text.lower()
    assert _predicted(browser) == []


# Deterministic answers for the rendering checks below: the page's `fetch` is replaced in the
# browser, so the server cannot make these pass or fail by chance.
_FAKE_FETCH = """
const [status, body] = arguments;
window.fetch = async (url) => String(url).endsWith("/v1/labels")
  ? new Response(JSON.stringify({labels: [], thresholds: {}, taxonomies: {}}), {status: 200})
  : new Response(JSON.stringify(body), {status, headers: {"Content-Type": "application/json"}});
"""


@pytest.mark.parametrize(("status", "detail", "shown"), [
    (413, "at most 64 texts per request", "Error 413: at most 64 texts per request"),
    (422, [{"loc": ["body", "threshold"], "msg": "must be <= 1", "type": "x"}],
     "Error 422: threshold: must be <= 1"),
])
def test_api_errors_are_shown(browser: object, server_url: str, status: int,
                              detail: object, shown: str) -> None:
    _open(browser, server_url)
    browser.execute_script(_FAKE_FETCH, status, {"detail": detail})
    _type_and_submit(browser, "anything")
    _wait(browser, lambda d: _results_state(d)[0] == "error")
    error = browser.find_element(*_by('[data-testid="error"]'))
    assert error.is_displayed() and error.get_attribute("role") == "alert"
    assert error.text == shown


def test_highlight_offsets_are_code_points(browser: object, server_url: str) -> None:
    """The API's offsets are Python (code point) indices: an emoji must not shift the spans."""
    text = "\U0001f600 thanks a lot"  # the emoji is one code point, two UTF-16 units
    answer = {"model": "fake", "taxonomy": "goemotions", "results": [{
        "labels": [{"label": "gratitude", "score": 0.9, "threshold": 0.3}],
        "scores": {"gratitude": 0.9, "anger": 0.01},
        "explanations": {"gratitude": [
            {"token": "thanks", "weight": 0.6, "start": 2, "end": 8},
            {"token": "lot", "weight": -0.1, "start": 11, "end": 14},
        ]},
    }]}
    _open(browser, server_url)
    browser.execute_script(_FAKE_FETCH, 200, answer)
    # ChromeDriver cannot type characters outside the BMP: set the value from script
    browser.execute_script("document.getElementById('text-input').value = arguments[0];", text)
    browser.find_element(*_by('[data-testid="submit"]')).click()
    _wait_done(browser, "goemotions")

    spans = browser.find_elements(*_by('[data-testid="explain-span"]'))
    got = [(s.text, s.get_attribute("class")) for s in spans]
    assert got == [("thanks", "span up"), ("lot", "span down")]
    assert browser.find_element(*_by(".explained-text")).text == text
    # a stronger weight is drawn more opaque
    alphas = [float(browser.execute_script(
        "return arguments[0].style.getPropertyValue('--alpha');", s)) for s in spans]
    assert alphas[0] > alphas[1]
    assert _predicted(browser) == ["gratitude"]
    assert _bars(browser)["gratitude"]["predicted"] is True
