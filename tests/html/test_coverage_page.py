"""The HTML coverage report in a real browser: Debian's headless Chromium driven through
chromedriver (WebDriver), with the DevTools performance log as the request log.

Pages under test, written by the Rust tests (run `cargo test` first; scripts/test does):
  target/html-artifacts/sandbox.html + .json         the example organization, partly covered,
                                                      from an end-to-end run against moto
                                                      (tests/it/coverage_html.rs)
  target/html-artifacts/generated-5000.html + .json  5,000 accounts x 20 regions and a second
                                                      stack set, names with markup
                                                      (crates/cli/src/render/coverage_html.rs)
Each .json is `stackfleet coverage --output json` of the same report, the truth the DOM is held to.

Screenshots and measurements land next to them (*.png, metrics.json). Without Chromium the tests
are skipped with the reason, unless STACKFLEET_REQUIRE_BROWSER=1 (CI), where that is a failure.
"""

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "html-artifacts"
PAGES = ["sandbox", "generated-5000"]
PROBLEM_FREE = {"covered"}

METRICS = {}


def browser_paths():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return chromium, driver


@pytest.fixture(scope="module")
def driver():
    chromium, chromedriver = browser_paths()
    if not (chromium and chromedriver):
        message = (
            "Chromium or chromedriver is not installed (apt-get install chromium chromium-driver); "
            "the browser tests of the HTML report did not run"
        )
        if os.environ.get("STACKFLEET_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="stackfleet-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
    ]:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # An explicit chromedriver: Selenium Manager never runs, so nothing is downloaded.
    d = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    d.set_script_timeout(120)
    d.set_page_load_timeout(120)
    yield d
    d.quit()
    shutil.rmtree(profile, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    if METRICS:
        (ARTIFACTS / "metrics.json").write_text(json.dumps(METRICS, indent=2) + "\n")


def load(driver, name):
    page = ARTIFACTS / f"{name}.html"
    report = ARTIFACTS / f"{name}.json"
    assert page.exists() and report.exists(), (
        f"{page} or {report} is missing: run `cargo test --workspace` first (scripts/test does)"
    )
    driver.get_log("browser")  # start each page with empty logs
    driver.get_log("performance")
    started = time.monotonic()
    driver.get(page.as_uri())
    deadline = time.monotonic() + 120
    while driver.execute_script("return document.documentElement.dataset.paintedMs") is None:
        assert time.monotonic() < deadline, "the page never finished drawing"
        time.sleep(0.05)
    wall = time.monotonic() - started
    timing = driver.execute_script(
        """const n = performance.getEntriesByType('navigation')[0];
           const d = document.documentElement.dataset;
           return {script_start_ms: Number(d.scriptStartMs), render_ms: Number(d.renderMs),
                   painted_ms: Number(d.paintedMs),
                   dom_content_loaded_ms: Math.round(n.domContentLoadedEventEnd),
                   load_ms: Math.round(n.loadEventEnd)};"""
    )
    METRICS[name] = dict(timing, bytes=page.stat().st_size, wall_s=round(wall, 2))
    print(f"\n{name}: {METRICS[name]}")
    return json.loads(report.read_text()), page


def problem(cell):
    return (cell["required"] and cell["status"] != "covered") or cell["status"] == "unmanaged"


def dom_grid(driver):
    """Regions and rows of the account grid: [account, name, [status or '.' per region], visible]."""
    return driver.execute_script(
        """const regions = Array.from(document.querySelectorAll('#accounts thead th.region'))
                .map(th => th.textContent);
           const rows = Array.from(document.querySelectorAll('#accounts tbody tr')).map(tr => [
             tr.dataset.account, tr.querySelector('td.name').textContent,
             Array.from(tr.cells).slice(3).map(td => {
               const m = td.className.match(/st-([a-z-]+)/); return m ? m[1] : '.'; }),
             !tr.hidden, Array.from(tr.cells).slice(3).map(td => td.textContent).join('')]);
           return [regions, rows];"""
    )


def visible_accounts(driver):
    return set(
        driver.execute_script(
            "return Array.from(document.querySelectorAll('#accounts tbody tr'))"
            ".filter(tr => !tr.hidden).map(tr => tr.dataset.account);"
        )
    )


def set_search(driver, text):
    box = driver.find_element("id", "search")
    box.clear()
    if text:
        box.send_keys(text)
    else:
        # clear() sends no input event
        driver.execute_script("arguments[0].dispatchEvent(new Event('input'))", box)


def screenshot(driver, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


@pytest.mark.parametrize("name", PAGES)
def test_page(driver, name):
    report, page = load(driver, name)
    summary = report["summary"]
    letters = {}

    # Header: totals and counts by status, as in the JSON report.
    assert driver.find_element("id", "total-percent").text == f"{summary['percent']:.1f}%"
    assert driver.find_element("id", "total-covered").text == str(summary["covered"])
    assert driver.find_element("id", "total-required").text == str(summary["required"])
    assert driver.find_element("id", "organization").text == report["organization_id"]
    legend = driver.execute_script(
        "return Array.from(document.querySelectorAll('#legend li')).map(li => "
        "[li.dataset.status, Number(li.querySelector('.n').textContent), li.querySelector('.c').textContent]);"
    )
    assert {s: n for s, n, _ in legend if n} == summary["by_status"]
    letters = {s: letter for s, _, letter in legend}

    sets = report["stack_sets"]
    tabs = driver.find_elements("css selector", "#set-tabs .tab")
    assert len(tabs) == (len(sets) if len(sets) > 1 else 0)
    for i, stack_set in enumerate(sets):
        if tabs:
            tabs[i].click()
            assert tabs[i].get_attribute("aria-selected") == "true"
        check_stack_set(driver, stack_set, letters)

    if name == "generated-5000":
        check_markup_shows_as_text(driver, report)

    # Nothing fetched: no resource entries, and the DevTools log saw no request but the page.
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0
    requests = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
    sent = [m["params"] for m in requests if m["method"] == "Network.requestWillBeSent"]
    # Everything the page's document loaded shares the loader of its navigation.
    loaders = {p["loaderId"] for p in sent if p["request"]["url"] == page.as_uri()}
    assert loaders, "the request log did not see the page itself"
    assert {p["request"]["url"] for p in sent if p.get("loaderId") in loaders} == {page.as_uri()}
    # And nothing at all, from any target (the browser's own chrome:// pages included), went out.
    remote = {
        p["request"]["url"]
        for p in sent
        if p["request"]["url"].split(":")[0] in ("http", "https", "ws", "wss", "ftp")
    }
    assert remote == set(), remote
    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert errors == [], errors

    if tabs:
        tabs[0].click()
    driver.execute_script("window.scrollTo(0, 0)")
    screenshot(driver, name)
    # The grid with only problems, and the reason of the first problem cell opened.
    driver.find_element("id", "problems-only").click()
    driver.execute_script(
        "const td = document.querySelector('#accounts tbody tr:not([hidden]) td.req:not(.st-covered)');"
        "td.click(); document.getElementById('accounts').scrollIntoView();"
    )
    screenshot(driver, f"{name}-problems")
    driver.find_element("id", "problems-only").click()
    driver.execute_script("window.scrollTo(0, 0)")
    # The page as printed: colours kept, controls gone.
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    screenshot(driver, f"{name}-print")
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


def check_stack_set(driver, stack_set, letters):
    cells = {(c["account"], c["region"]): c for c in stack_set["cells"]}
    accounts = sorted({c["account"] for c in stack_set["cells"]})
    regions, rows = dom_grid(driver)
    assert driver.find_element("id", "set-title").text.startswith(f"Stack set {stack_set['name']}:")

    # One row per account, one cell per region, each with the status of the report.
    assert sorted(r[0] for r in rows) == accounts
    assert set(regions) >= {r for _, r in cells} and set(stack_set["regions"]) <= set(regions)
    seen = 0
    for account, _, statuses, _, text in rows:
        assert len(statuses) == len(regions)
        for region, status in zip(regions, statuses, strict=True):
            cell = cells.get((account, region))
            assert status == (cell["status"] if cell else "."), (account, region)
            seen += cell is not None
        assert text == "".join(letters[s] for s in statuses if s != ".")
    assert seen == len(cells)

    # Heat map, root row: required and covered cells per region.
    root = driver.execute_script(
        "return Array.from(document.querySelectorAll('#heatmap tbody tr[data-ou=\"/\"] td'))"
        ".map(td => [Number(td.dataset.required), Number(td.dataset.covered)]);"
    )
    for region, (required, covered) in zip(regions, root, strict=True):
        in_org = [
            c for c in cells.values() if c["region"] == region and c["required"] and c["ou_path"]
        ]
        assert required == len(in_org), region
        assert covered == sum(c["status"] == "covered" for c in in_org), region

    # Problems only: exactly the accounts with a problem cell.
    problems = {a for (a, _), c in cells.items() if problem(c)}
    driver.find_element("id", "problems-only").click()
    assert visible_accounts(driver) == problems
    assert driver.find_element("id", "shown").get_attribute("data-visible") == str(len(problems))
    driver.find_element("id", "problems-only").click()
    assert len(visible_accounts(driver)) == len(accounts)

    # Search by name and by id, with the problem filter combining.
    names = {c["account"]: c["account_name"] for c in stack_set["cells"]}
    some = next(a for a in accounts if names[a])
    for query in [names[some][:8], some[3:9]]:
        set_search(driver, query)
        q = query.lower()
        expected = {a for a in accounts if q in a or q in names[a].lower()}
        assert some in expected
        assert visible_accounts(driver) == expected, query
    driver.find_element("id", "problems-only").click()
    assert visible_accounts(driver) == expected & problems
    driver.find_element("id", "problems-only").click()
    set_search(driver, "")
    assert len(visible_accounts(driver)) == len(accounts)

    # A click on a problem cell (or any) shows its reason.
    target = next((k for k, c in cells.items() if problem(c)), next(iter(cells)))
    column = regions.index(target[1])
    driver.execute_script(
        "document.querySelector(`#accounts tbody tr[data-account='${arguments[0]}']`)"
        ".cells[arguments[1] + 3].click();",
        target[0],
        column,
    )
    reason = driver.find_element("css selector", "#detail dd[data-field=reason]").text
    assert reason == cells[target]["reason"]
    driver.find_element("css selector", "#detail .close").click()

    # Collapsing an OU hides its descendants in the heat map.
    ous = driver.execute_script(
        "return Array.from(document.querySelectorAll('#heatmap tbody tr')).map(tr => tr.dataset.ou);"
    )
    parent = next((o for o in ous if o != "/" and any(p.startswith(o + "/") for p in ous)), None)
    if parent:
        toggle = driver.find_element("css selector", f'#heatmap tr[data-ou="{parent}"] .tog')
        toggle.click()
        hidden = set(
            driver.execute_script(
                "return Array.from(document.querySelectorAll('#heatmap tbody tr')).filter(tr => tr.hidden).map(tr => tr.dataset.ou);"
            )
        )
        assert hidden == {o for o in ous if o.startswith(parent + "/")}
        toggle.click()


def check_markup_shows_as_text(driver, report):
    names = {c["account_name"] for c in report["stack_sets"][0]["cells"]}
    nasty = [n for n in names if "<" in n or "&" in n]
    assert len(nasty) >= 3
    shown = set(
        driver.execute_script(
            "return Array.from(document.querySelectorAll('#accounts td.name')).map(td => td.textContent);"
        )
    )
    for name in nasty:
        assert name in shown, name
    # Only the page's own two scripts, no injected element, and no alert() ever ran.
    assert driver.execute_script("return document.scripts.length") == 2
    assert (
        driver.execute_script("return document.querySelectorAll('#app img, #app script').length")
        == 0
    )
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        _ = driver.switch_to.alert.text
