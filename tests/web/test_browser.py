"""The web page in a real browser: Playwright driving Debian's Chromium (`apt-get install chromium`;
Playwright's own browser download is not used) against the page served by uvicorn on a free
loopback port, on a walked demo year whose simulator still runs.

A person logs in, sees each round's bar on the school's year, opens a round, downloads the CSV
(the CLI's file, byte for byte) and presses "sync now", then sees the new run. A wrong password
and a POST without the CSRF token are refused; a page without a session goes to the login page.

Screenshots of the main pages go to `$PYTEST_OUTPUT/screenshots` when PYTEST_OUTPUT is set, else
to `screenshots/` in pytest's base temporary folder (the path is printed at the end of the run).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from connector.store import Store
from connector.store.models import SyncRun
from connector.web.app import create_app
from connector.web.server import Background, start_in_thread
from connector.web.syncjobs import SyncJobs
from tests.review.conftest import cli

from .conftest import PASSWORD, add_users, fast_engine

BRIN = "12AB00"
TIMEOUT_MS = 60_000  # a busy 2-core machine: generous, and never a fixed wait
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the [test] extra)")


def chromium_path() -> str | None:
    given = os.environ.get("CONNECTOR_TEST_CHROMIUM")
    if given:
        return given
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = os.environ.get("PYTEST_OUTPUT")
    folder = Path(base) / "screenshots" if base else tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def server(year) -> Iterator[Background]:
    runtime = year.runtime()
    clock = lambda: year.moment  # noqa: E731  (the moment of the walked year, as the CLI's --now)
    jobs = SyncJobs(lambda: runtime, clock=clock, engine_factory=fast_engine)
    app = create_app(runtime, clock=clock, jobs=jobs)
    add_users(app)
    background = start_in_thread(runtime, host="127.0.0.1", port=0, app=app)
    try:
        yield background
    finally:
        background.stop()
        app.state.web.store.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator:
    path = chromium_path()
    if path is None:
        pytest.skip(
            "no Chromium binary found (looked for chromium, chromium-browser, google-chrome; or set "
            "CONNECTOR_TEST_CHROMIUM): `apt-get install chromium` (as .ci/run does) to run the browser tests"
        )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server.url, accept_downloads=True, locale="nl-NL")
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    # A refused login is a 401, which the console reports too; what must not happen is a script
    # error or anything the Content-Security-Policy refused (an inline script or style).
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda message: errors.append(message.text) if "Refused to" in message.text else None)
    yield tab
    context.close()
    assert not errors, f"script errors or CSP violations in the browser: {errors}"


def log_in(page, name: str = "directeur", password: str = PASSWORD) -> None:
    page.goto("/inloggen")
    page.fill("#naam", name)
    page.fill("#wachtwoord", password)
    page.click("button[type=submit]")


def test_a_page_without_a_session_goes_to_the_login_page(page, shots):
    page.goto(f"/school/{BRIN}")
    assert "/inloggen?volgende=" in page.url
    assert page.locator("h1").inner_text() == "Inloggen"
    page.screenshot(path=str(shots / "01-inloggen.png"), full_page=True)


def test_a_wrong_password_is_refused(page):
    log_in(page, password="niet-het-goede-wachtwoord")
    assert page.url.endswith("/inloggen")
    assert "Inloggen is niet gelukt" in page.locator("[role=alert]").inner_text()
    page.goto("/")
    assert "/inloggen" in page.url  # no session came of it


def test_log_in_and_see_each_rounds_bar_on_the_simulators_year(page, year, shots):
    log_in(page, "directeur")
    page.wait_for_url("**/")
    assert page.locator(f"tr[data-school='{BRIN}']").is_visible()
    page.screenshot(path=str(shots / "02-overzicht.png"), full_page=True)
    page.click(f"tr[data-school='{BRIN}'] a >> nth=0")
    page.wait_for_url(f"**/school/{BRIN}")
    settings = year.runtime().loaded.settings
    rounds = [r.id for r in settings.cycle_for(settings.schools[0]).rounds]
    for round_id in rounds:
        bar = page.locator(f"li[data-round='{round_id}'] svg[data-bar='{round_id}']")
        assert bar.is_visible(), round_id
        assert bar.locator("rect").count() >= 1 and bar.bounding_box()["width"] > 100, round_id
    drawn = page.locator("svg[data-bar] rect.part-on_time").count()
    assert drawn >= 1  # the year has verslagen on time, drawn in their colour
    page.screenshot(path=str(shots / "03-schooljaar.png"), full_page=True)


def test_open_a_round_and_see_its_teachers_by_name(page, shots):
    log_in(page, "ib")
    page.goto(f"/school/{BRIN}")
    page.click("li[data-round='start'] h3 a")
    page.wait_for_url(f"**/school/{BRIN}/ronde/start")
    teachers = page.locator("table.teachers tbody tr")
    assert teachers.count() >= 2
    first = teachers.nth(0).locator("td").nth(0).inner_text()
    assert first and "nummer" not in first  # a name from PAS, not a PAS id
    assert page.locator("table.pupils").count() >= 1
    assert page.locator("form.sync").count() == 0  # the IB reads, and may not sync
    page.screenshot(path=str(shots / "04-ronde.png"), full_page=True)


def test_download_the_csv_and_it_is_the_clis_file(page, year, shots, tmp_path):
    log_in(page, "ib")
    page.goto("/verslagen")
    page.screenshot(path=str(shots / "05-verslagen-te-laat.png"), full_page=True)
    with page.expect_download() as info:
        page.click("a[download]")
    downloaded = tmp_path / "page.csv"
    info.value.save_as(downloaded)
    target = tmp_path / "cli.csv"
    code, _, err = cli(
        "report", "verslagen", "--settings", str(year.settings), "--format", "csv", "--output", str(target)
    )
    assert code == 0, err
    assert downloaded.read_bytes() == target.read_bytes()


def runs_of(year) -> list[SyncRun]:
    store = Store(year.runtime().store_url)
    try:
        with store.read() as session:
            return list(session.exec(select(SyncRun).order_by(col(SyncRun.started_at))))
    finally:
        store.dispose()


def test_press_sync_now_and_see_the_new_run(page, year, shots):
    before = {r.id for r in runs_of(year)}
    log_in(page, "directeur")
    page.goto(f"/school/{BRIN}")
    page.click("form.sync button")
    page.wait_for_url("**/synchroniseren/*")
    page.screenshot(path=str(shots / "06-synchroniseren-bezig.png"), full_page=True)
    page.wait_for_selector(".job[data-final]")  # the page follows the job without a reload
    assert page.locator(".job").get_attribute("data-state") == "done", page.locator(".job").inner_text()
    assert "Klaar" in page.locator(".job").inner_text()
    assert page.locator("text=De nieuwe synchronisatie").is_visible()
    new = [r for r in runs_of(year) if r.id not in before]
    assert len(new) == 1 and new[0].trigger == "manual" and new[0].outcome != "running"
    page.screenshot(path=str(shots / "07-synchroniseren-klaar.png"), full_page=True)
    page.click("text=Bekijk deze synchronisatie")
    assert page.locator("[data-outcome]").first.inner_text()
    page.screenshot(path=str(shots / "08-synchronisatie.png"), full_page=True)


def test_a_post_without_the_csrf_token_is_refused(page):
    log_in(page, "directeur")
    page.goto("/")
    response = page.request.post(f"/school/{BRIN}/synchroniseren", form={}, max_redirects=0)
    assert response.status == 403
    response = page.request.post("/uitloggen", form={"csrf": "geraden"}, max_redirects=0)
    assert response.status == 403


def test_the_runs_and_health_pages(page, shots):
    log_in(page, "ict")
    page.goto("/synchronisaties?periode=")
    assert page.locator("table.runs tbody tr").count() >= 1
    page.select_option("#niveau", "warning")
    page.click("form.filters button")
    page.wait_for_url("**niveau=warning**")
    page.screenshot(path=str(shots / "09-synchronisaties.png"), full_page=True)
    page.goto("/gezondheid")
    assert page.locator("[data-healthy]").count() == 1
    page.screenshot(path=str(shots / "10-gezondheid.png"), full_page=True)


def test_where_the_screenshots_are(shots):
    names = sorted(p.name for p in shots.glob("*.png"))
    if not names:
        pytest.skip("the screenshots are taken by the other tests of this module")
    print(f"\nscreenshots of the web page: {shots} ({len(names)})")
    assert len(names) >= 9
