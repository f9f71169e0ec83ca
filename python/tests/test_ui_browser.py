"""The status page in a real browser (headless Chromium through Selenium):
a real Redis and daemon run jobs, some of which fail to dead; the figures the
page shows must equal /stats and `forkpool stats --json`; "Retry" on a dead
letter needs the admin token (403 without it) and, with it, the job runs
again. Screenshots (desktop and 390 px wide) go to the build directory
(next to FORKPOOL_BIN) as ui-desktop.png and ui-mobile.png.

Skipped, saying so, only where Chromium, chromedriver or Selenium cannot be
installed (scripts/bootstrap.sh installs chromium, chromium-driver and
python3-selenium)."""
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Dict, List, Optional

import pytest

TOKEN = "browser-test-token"


def _browser_or_skip() -> Any:
    chromium = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None
    if chromium is None or driver is None or webdriver is None:
        pytest.skip("browser test skipped: Chromium, chromedriver or python3-selenium is not "
                    "installed and could not be (scripts/bootstrap.sh installs chromium, "
                    "chromium-driver, python3-selenium)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1360,1000", "--hide-scrollbars", "--force-device-scale-factor=1"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(driver), options=opts)


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http(port: int, method: str, path: str,
          headers: Optional[Dict[str, str]] = None) -> "tuple[int, Any]":
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def _wait(what: str, cond: Callable[[], bool], timeout: float = 60.0) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if cond():
                return
        except StaleElementReferenceException:
            pass  # the page redrew what cond was reading: ask again
        time.sleep(0.2)
    pytest.fail("timed out waiting for " + what)


def _wait_ready(port: int) -> None:
    def ready() -> bool:
        try:
            return _http(port, "GET", "/readyz")[0] == 200
        except urllib.error.URLError:
            return False  # not listening yet
    _wait("the health endpoint", ready)


def _shots_dir(forkpool_bin: str) -> str:
    d = os.environ.get("FP_UI_SCREENSHOT_DIR") or os.path.dirname(os.path.abspath(forkpool_bin))
    os.makedirs(d, exist_ok=True)
    return d


def test_status_page_in_a_browser(client: Any, redis_url: str, forkpool_bin: str,
                                  tmp_path: Any) -> None:
    browser = _browser_or_skip()
    port = _free_port()
    config = tmp_path / "forkpool.toml"
    config.write_text(
        '[daemon]\nname = "web-ui-demo"\nheartbeat_interval = "1s"\nshutdown_timeout = "1s"\n'
        '[redis]\nurl = "%s"\n[pool]\nchildren = 3\n[retry]\nmax_attempts = 1\n'
        '[health]\nlisten = "127.0.0.1:%d"\nadmin_token = "%s"\n'
        '[ledger]\npath = "%s"\n' % (redis_url, port, TOKEN, tmp_path / "ledger.db"))
    log = open(tmp_path / "daemon.log", "wb")
    daemon = subprocess.Popen([forkpool_bin, "run", "-c", str(config)], stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        _run(browser, client, forkpool_bin, str(config), port, _shots_dir(forkpool_bin))
    finally:
        browser.quit()
        daemon.terminate()
        daemon.wait(timeout=60)
        log.close()


def _stats_json(forkpool_bin: str, config: str) -> Dict[str, Any]:
    out = subprocess.run([forkpool_bin, "stats", "-c", config, "--json"], check=True,
                         capture_output=True, text=True).stdout
    return dict(json.loads(out))


def _text(browser: Any, css: str) -> str:
    from selenium.webdriver.common.by import By
    return str(browser.find_element(By.CSS_SELECTOR, css).text)


def _click(browser: Any, css: str) -> None:
    """Clicks the element css selects; the page redraws its lists every poll,
    so an element found a moment ago may be gone: find it again then."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    deadline = time.monotonic() + 30
    while True:
        try:
            browser.find_element(By.CSS_SELECTOR, css).click()
            return
        except StaleElementReferenceException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _run(browser: Any, client: Any, forkpool_bin: str, config: str, port: int,
         shots: str) -> None:
    from selenium.webdriver.common.by import By

    _wait_ready(port)
    # A few waves a second apart, so the charts have something to draw.
    for wave in range(6):
        for i in range(wave + 1):
            client.enqueue("noop", {"wave": wave, "n": i})
        if wave in (1, 3, 4):
            client.enqueue("fail", {"invoice": 1000 + wave}, job_id="invoice-%d" % (1000 + wave))
        time.sleep(1.0)
    for i in range(4):
        client.enqueue("noop", {"n": i})
    client.enqueue("echo", {"report": "monthly", "rows": list(range(400))})
    _wait("26 ok and 3 failed jobs", lambda: (
        _http(port, "GET", "/stats")[1]["counters"]["jobs_ok"] == 26
        and _http(port, "GET", "/stats")[1]["counters"]["jobs_failed"] == 3))

    browser.get("http://127.0.0.1:%d/" % port)
    _wait("the page's first poll", lambda: browser.execute_script(
        "return document.body.dataset.loaded === '1'"))
    _wait("3 dead letters on the page", lambda: len(
        browser.find_elements(By.CSS_SELECTOR, "#dead .letter")) == 3)
    _wait("3 failures from the ledger", lambda: len(
        browser.find_elements(By.CSS_SELECTOR, "#failures tbody tr td.err")) == 3)

    # The figures shown are /stats' and `forkpool stats --json`'s (they are
    # stable now: every job is settled; polls come every 2 s).
    def figures_match() -> bool:
        stats = _http(port, "GET", "/stats")[1]
        cli = _stats_json(forkpool_bin, config)["queues"][0]
        pids = sorted(str(c["pid"]) for c in stats["children"])
        shown = sorted(e.get_attribute("data-pid") for e in
                       browser.find_elements(By.CSS_SELECTOR, "#children tbody tr[data-pid]"))
        row = '#queues tr[data-queue="default"] td[data-field="%s"]'
        return (_text(browser, "#stat-jobs-ok") == "{:,}".format(stats["counters"]["jobs_ok"])
                and _text(browser, "#stat-jobs-failed") == str(stats["counters"]["jobs_failed"])
                and _text(browser, "#stat-dead") == str(cli["dead"])
                and _text(browser, "#stat-ready") == str(cli["ready"])
                and _text(browser, row % "dead") == str(cli["dead"])
                and _text(browser, row % "pending") == str(cli["pending"])
                and _text(browser, row % "delayed") == str(cli["delayed"])
                and pids == shown)
    _wait("the page to show /stats' and forkpool stats' figures", figures_match, 30)
    assert _text(browser, "#daemon-state") == "running"
    assert "web-ui-demo" in _text(browser, "#daemon-name")
    # The token is never on the page, nor anywhere in its data.
    assert TOKEN not in browser.page_source
    assert TOKEN not in json.dumps(_http(port, "GET", "/api/ui")[1])

    # Without a token: the action is refused (403), the page asks for it.
    entry_id = browser.find_elements(By.CSS_SELECTOR, "#dead .letter")[-1].get_attribute("data-id")
    retry = '#dead .letter[data-id="%s"] button.retry' % entry_id
    status, body = _http(port, "POST", "/api/ui/retry?queue=default&id=" + entry_id)
    assert status == 403, body
    _click(browser, retry)
    _wait("the token form", lambda: browser.find_element(By.ID, "token-form").is_displayed())
    # A wrong token: 403 from the daemon, shown on the page.
    browser.find_element(By.ID, "token-input").send_keys("not-the-token")
    browser.find_element(By.CSS_SELECTOR, "#token-form button[type=submit]").click()
    _click(browser, retry)
    _wait("the 403 banner", lambda: "403" in _text(browser, "#banner"))
    # The right one: accepted, and the job runs again (and fails again).
    browser.find_element(By.ID, "token-input").send_keys(TOKEN)
    browser.find_element(By.CSS_SELECTOR, "#token-form button[type=submit]").click()
    _click(browser, retry)
    _wait("the retried job to run", lambda: (
        _http(port, "GET", "/stats")[1]["counters"]["jobs_failed"] == 4))
    _wait("the page to show it", lambda: _text(browser, "#stat-jobs-failed") == "4"
          and "retry — retried" in _text(browser, "#last-action"))
    _wait("the letter listed again under a new id", lambda: (
        len(browser.find_elements(By.CSS_SELECTOR, "#dead .letter")) == 3
        and not browser.find_elements(By.CSS_SELECTOR, '#dead .letter[data-id="%s"]'
                                      % entry_id)))

    # Long jobs, more than there are children: busy children and a queue
    # that waits, for the screenshots.
    for i in range(5):
        client.enqueue("sleep", {"ms": 60000}, job_id="report-%d" % i)
    _wait("three busy children", lambda: sum(
        c["state"] == "busy" for c in _http(port, "GET", "/stats")[1]["children"]) == 3)
    _wait("the page to show them", lambda: len(browser.find_elements(
        By.CSS_SELECTOR, "#children .chip.busy")) == 3 and _text(browser, "#stat-ready") == "2")
    browser.execute_script("window.scrollTo(0, 0)")
    height = int(browser.execute_script("return document.documentElement.scrollHeight"))
    browser.set_window_size(1360, max(1000, height + 40))
    time.sleep(2.5)  # one more poll at this size, so the charts are drawn for it
    browser.save_screenshot(os.path.join(shots, "ui-desktop.png"))
    browser.set_window_size(390, 844)
    time.sleep(2.5)
    height = int(browser.execute_script("return document.documentElement.scrollHeight"))
    browser.set_window_size(390, height + 40)
    time.sleep(0.5)
    browser.save_screenshot(os.path.join(shots, "ui-mobile.png"))
    width = int(browser.execute_script("return document.documentElement.scrollWidth"))
    assert width <= 390 + 1, "the page scrolls sideways at 390 px (%d px wide)" % width
    entries: List[Any] = browser.get_log("browser") if hasattr(browser, "get_log") else []
    assert not [e for e in entries if "Content Security Policy" in str(e)], entries


def test_status_page_on_the_embedded_queue(forkpool_bin: str, tmp_path: Any) -> None:
    """No Redis anywhere: the header says the queue file is ready (not
    "Redis"), the file's dead rows are listed, and Retry with the token moves
    one back and it runs again. Screenshot: ui-embedded.png."""
    from forkpool import Client
    from selenium.webdriver.common.by import By
    browser = _browser_or_skip()
    port = _free_port()
    queue_file = tmp_path / "queue.db"
    config = tmp_path / "forkpool.toml"
    config.write_text(
        '[daemon]\nname = "one-host"\nshutdown_timeout = "1s"\n'
        '[sqlite]\npath = "%s"\n[pool]\nchildren = 2\n[retry]\nmax_attempts = 1\n'
        '[health]\nlisten = "127.0.0.1:%d"\nadmin_token = "%s"\n' % (queue_file, port, TOKEN))
    log = open(tmp_path / "daemon.log", "wb")
    daemon = subprocess.Popen([forkpool_bin, "run", "-c", str(config)], stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        _wait_ready(port)
        client = Client(sqlite=str(queue_file))
        for i in range(5):
            client.enqueue("noop", {"n": i})
        for i in range(2):
            client.enqueue("fail", {"invoice": i}, job_id="invoice-%d" % i)
        _wait("5 ok and 2 failed jobs", lambda: (
            _http(port, "GET", "/stats")[1]["counters"]["jobs_ok"] == 5
            and _http(port, "GET", "/stats")[1]["counters"]["jobs_failed"] == 2))
        browser.get("http://127.0.0.1:%d/" % port)
        _wait("the page's first poll", lambda: browser.execute_script(
            "return document.body.dataset.loaded === '1'"))
        _wait("2 dead letters on the page", lambda: len(
            browser.find_elements(By.CSS_SELECTOR, "#dead .letter")) == 2)
        meta = _text(browser, "#daemon-meta")
        assert "queue file ready" in meta and "Redis" not in meta, meta

        entry_id = browser.find_elements(By.CSS_SELECTOR, "#dead .letter")[0].get_attribute(
            "data-id")
        retry = '#dead .letter[data-id="%s"] button.retry' % entry_id
        _click(browser, retry)
        _wait("the token form", lambda: browser.find_element(By.ID, "token-form").is_displayed())
        browser.find_element(By.ID, "token-input").send_keys(TOKEN)
        browser.find_element(By.CSS_SELECTOR, "#token-form button[type=submit]").click()
        _click(browser, retry)
        _wait("the retried job to run", lambda: (
            _http(port, "GET", "/stats")[1]["counters"]["jobs_failed"] == 3))
        _wait("the page to show it", lambda: _text(browser, "#stat-jobs-failed") == "3"
              and "retry — retried" in _text(browser, "#last-action"))
        browser.execute_script("window.scrollTo(0, 0)")
        time.sleep(2.5)
        browser.save_screenshot(os.path.join(_shots_dir(forkpool_bin), "ui-embedded.png"))
    finally:
        browser.quit()
        daemon.terminate()
        daemon.wait(timeout=60)
        log.close()
