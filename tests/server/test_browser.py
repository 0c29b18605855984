"""End to end in a real headless Chromium (Debian's, driven by Playwright; never downloaded)
against the real server started as a subprocess."""

from __future__ import annotations

import shutil
import urllib.request

import pytest

from tests.server.conftest import start_server

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def server():
    proc, url = start_server()
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def page(server):
    if not shutil.which(CHROMIUM):
        pytest.fail("Debian's chromium is missing: `apt-get install -y chromium` (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 1400})
        page.console_errors = []  # type: ignore[attr-defined]
        page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
        page.goto(server + "/")
        page.wait_for_selector("body[data-ready='1']")
        yield page
        browser.close()


def test_the_first_load_shows_a_traced_example_with_its_legend(page, tmp_path):
    """No click: the default prompt is traced on load, both charts are drawn, and the colour
    scale is explained (a screenshot is taken after load)."""
    tokens = page.query_selector_all("#tokens span")
    assert len(tokens) >= 4 and page.query_selector("#trace-chart .main-svg")
    assert page.query_selector("#row-chart .main-svg")
    assert len(page.query_selector_all("#trace-chart .xtick text")) == len(tokens)
    assert "surprisal" in page.text_content("#legend")
    shot = page.screenshot(path=str(tmp_path / "first-load.png"), full_page=True)
    assert len(shot) > 20_000  # a drawn page, not a blank one


def test_typed_prompt_renders_the_expected_top_token(page, smollm2):
    prompt = "The capital of France is"
    page.fill("#prompt", prompt)
    page.click("#trace")
    page.wait_for_selector("#trace-chart text.bartext")
    labels = [t.text_content() for t in page.query_selector_all("#trace-chart text.bartext")]
    trace = smollm2.trace(prompt, top_k=1)
    assert labels == [row[0].strip() for row in trace.topk_tokens]
    assert labels[-1] == "Paris"
    row_labels = page.query_selector_all("#row-chart .ytick text")
    assert any("Paris" in t.text_content() for t in row_labels)


def test_clicking_a_token_shows_its_row(page):
    page.click("#tokens span[data-position='1']")
    # selectors, not JavaScript predicates: the page's CSP forbids eval, also for the test
    page.wait_for_selector("#row-chart[data-position='1']")
    title = page.text_content("#row-chart .gtitle")
    assert "row after token 1" in title


def test_icl_panel_adds_demonstrations(page, server):
    points = "#icl-chart .scatterlayer .trace:first-of-type .point"
    for n in (1, 2, 3):
        page.click("#add")
        page.wait_for_selector(f"{points}:nth-of-type({n})")
        assert len(page.query_selector_all(points)) == n
    assert page.text_content("#error") == ""
    # the number shown is the fit of the first 3 sentiment examples (test_api checks that
    # fit against the library's)
    import json

    task = json.load(urllib.request.urlopen(server + "/api/task/sentiment"))
    body = {"model": "smollm2-135m", "demos": task["examples"][:3]}
    for key in ("label_words", "template", "instruction"):
        body[key] = task[key]
    request = urllib.request.Request(
        server + "/api/icl", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    out = json.load(urllib.request.urlopen(request))
    shown = page.text_content("#kappa")
    mass = (
        " (label words' share of the next-token mass before any demonstration: "
        f"{100 * out['label_mass_k0']:.1f}%)"
    )
    assert (
        shown
        == (
            "fitted kappa > 10^4: no measurable updating yet (the curve is the zero-shot prior)"
            if out["kappa_at_bound"]
            else f"fitted kappa = {out['kappa']:.2f} pseudo-counts"
        )
        + mass
    )


def test_clicks_during_a_request_are_not_half_taken(page):
    """While a request is in flight (held here until the checks are done) the buttons are
    disabled and a busy line shows: clicks made meanwhile do nothing, instead of being
    counted and then lost (8 quick clicks used to give 6 points)."""
    points = "#icl-chart .scatterlayer .trace:first-of-type .point"
    page.click("#reset")
    held = []

    def hold(route):
        held.append(route)

    page.route("**/api/icl", hold)
    page.click("#add")
    page.wait_for_selector("body[data-busy='1']")
    assert page.is_disabled("#add") and page.is_disabled("#trace")
    assert page.text_content("#busy") != ""
    for _ in range(5):
        page.click("#add", force=True)  # a disabled button: the click must change nothing
    while not held:
        page.wait_for_timeout(20)
    assert len(held) == 1
    held[0].continue_()
    page.unroute("**/api/icl", hold)
    page.wait_for_selector("body:not([data-busy])")
    page.wait_for_selector(f"{points}:nth-of-type(1)")
    assert len(page.query_selector_all(points)) == 1
    for n in (2, 3):
        page.click("#add")
        page.wait_for_selector(f"{points}:nth-of-type({n})")
    assert len(page.query_selector_all(points)) == 3 and page.is_enabled("#add")
    assert page.text_content("#busy") == ""


def test_the_page_runs_under_its_content_security_policy(page):
    """After every interaction above: no script or style was blocked, no error logged."""
    assert page.console_errors == []
