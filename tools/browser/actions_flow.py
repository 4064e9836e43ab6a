"""The action pages in a real browser: headless Chromium (Debian's chromium and chromium-driver)
driven by Selenium through `riskrelay run --simulate`.

An analyst opens the "Confirm compromised" link from a delivered Slack payload, signs in to the
simulated tenant as its Security Operator, confirms, and sees the done page; the follow-up
message reaches the fake Slack endpoint and the simulated user is confirmed compromised. An
analyst without a role gets the page naming the role, and nothing changes. A cookie-less client
(a link scanner), a POST without or with a wrong CSRF token, an expired and a tampered link, and
a replayed sign-in answer change nothing. The status page sends a client without a session to
sign in and shows the tenant to the simulated Security Reader.

Usage: actions_flow.py RISKRELAY_BINARY [SCREENSHOT_DIR]
Exits non-zero with the reason on the first failed expectation.
"""

import base64
import hashlib
import hmac
import http.cookiejar
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

LINK_KEY = "browser-test-link-key-0123456789abcdef"
SLACK_PATH = "/services/T000/B000/br0wserTestSecret"
# The simulated tenant's fixed app registration (riskrelay::sim::SimConfig::default()).
SIM_TENANT = "5a5a5a5a-0000-4000-8000-000000000001"
SIM_CLIENT = "5a5a5a5a-0000-4000-8000-000000000002"
SIM_SECRET = "simulated-client-secret"


def fail(why):
    print(f"browser test FAILED: {why}", file=sys.stderr)
    sys.exit(1)


def expect(cond, why):
    if not cond:
        fail(why)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Slack(http.server.BaseHTTPRequestHandler):
    posts = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path == SLACK_PATH:
            Slack.posts.append(json.loads(body))
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def buttons(payload):
    out = {}
    for block in payload.get("blocks", []):
        if block.get("type") == "actions":
            for e in block["elements"]:
                out[e["text"]["text"]] = e.get("url")
    return out


def wait_for(what, check, seconds=90):
    deadline = time.time() + seconds
    while time.time() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.5)
    fail(f"timed out waiting for {what}")


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_link(claims):
    """An action link signed the way riskrelay documents it: v1.<claims>.<HMAC-SHA256>."""
    signed = "v1." + b64(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new(LINK_KEY.encode(), signed.encode(), hashlib.sha256).digest()
    return signed + "." + b64(mac)


def link_claims(url):
    token = url.rsplit("/", 1)[1]
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def client(cookies=None):
    """An HTTP client that keeps cookies and does not follow redirects (a scripted browser)."""
    jar = cookies if cookies is not None else http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect), jar


def call(opener, url, data=None):
    try:
        with opener.open(urllib.request.Request(url, data=data), timeout=20) as res:
            return res.status, res.headers, res.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def sim_state(sim_root, user):
    """The simulated user's risk, read from the simulator as riskrelay's app would."""
    form = urllib.parse.urlencode({
        "grant_type": "client_credentials", "client_id": SIM_CLIENT,
        "client_secret": SIM_SECRET, "scope": sim_root + "/.default",
    }).encode()
    with urllib.request.urlopen(f"{sim_root}/{SIM_TENANT}/oauth2/v2.0/token", form, timeout=10) as r:
        token = json.loads(r.read())["access_token"]
    req = urllib.request.Request(f"{sim_root}/v1.0/identityProtection/riskyUsers/{user}",
                                 headers={"authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        u = json.loads(r.read())
    return u["riskLevel"], u["riskState"]


def element(driver, id_, what, seconds=30):
    """The element with `id_` once the page holding it has loaded (a click's navigation may
    still be under way when the click returns: a form POST goes through several redirects), or
    a failure that says which page came instead."""
    deadline = time.time() + seconds
    found = driver.find_elements(By.ID, id_)
    while not found and time.time() < deadline:
        time.sleep(0.2)
        found = driver.find_elements(By.ID, id_)
    if not found:
        text = " ".join(driver.find_element(By.TAG_NAME, "body").text.split())[:400]
        fail(f"{what}: no #{id_} on {driver.current_url}: {text}")
    return found[0]


def browser(shots):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="riskrelay-chromium-")
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", "--window-size=1000,900"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    caps = driver.capabilities
    print(f"browser: {caps.get('browserName')} {caps.get('browserVersion')}, "
          f"chromedriver {caps.get('chrome', {}).get('chromedriverVersion', '?').split(' ')[0]}")
    return driver


def main():
    binary = sys.argv[1]
    shots = sys.argv[2] if len(sys.argv) > 2 else "target/browser"
    os.makedirs(shots, exist_ok=True)

    slack_port = free_port()
    slack = http.server.ThreadingHTTPServer(("127.0.0.1", slack_port), Slack)
    threading.Thread(target=slack.serve_forever, daemon=True).start()

    port = free_port()
    public = f"http://127.0.0.1:{port}"
    work = tempfile.mkdtemp(prefix="riskrelay-browser-")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "RISKRELAY_SLACK_WEBHOOK_URL": f"http://127.0.0.1:{slack_port}{SLACK_PATH}",
        "RISKRELAY_ACTIONS": "confirm,dismiss,revoke,snooze",
        "RISKRELAY_PUBLIC_URL": public,
        "RISKRELAY_ACTION_LINK_KEY": LINK_KEY,
        "RISKRELAY_POLL_INTERVAL_SECONDS": "30",
        "RISKRELAY_SIMULATE_TICK_SECONDS": "20",
        "RISKRELAY_LOG": "info",
    }
    log_path = os.path.join(work, "riskrelay.log")
    with open(log_path, "w") as log:
        service = subprocess.Popen(
            [binary, "run", "--simulate", "--listen", f"127.0.0.1:{port}",
             "--db", os.path.join(work, "riskrelay.sqlite")],
            env=env, stdout=log, stderr=subprocess.STDOUT)
    driver = None
    try:
        # A new-risk alert with its buttons, delivered to the fake Slack.
        alert = wait_for("a user alert with action buttons", lambda: next(
            (p for p in Slack.posts if "Confirm compromised" in buttons(p)), None))
        links = buttons(alert)
        for label in ["Confirm compromised", "Dismiss user risk", "Revoke sessions", "Snooze 7 days"]:
            expect(links.get(label, "").startswith(public + "/actions/v1."), f"{label}: {links}")
        confirm = links["Confirm compromised"]
        claims = link_claims(confirm)
        user = claims["u"]

        # The link scanner: a plain GET without cookies shows a page and changes nothing.
        scanner, _ = client()
        status, _, body = call(scanner, confirm)
        expect(status == 200 and "Sign in with Microsoft" in body, f"scanner got {status}")

        driver = browser(shots)
        driver.get(confirm)
        expect("Confirm compromised?" in driver.page_source, "landing page")
        element(driver, "signin", "the landing page").click()
        element(driver, "analyst-0", "the sign-in page")
        expect("Pick an account" in driver.page_source, f"sign-in page: {driver.current_url}")
        sim_root = urllib.parse.urlsplit(driver.current_url)
        sim_root = f"{sim_root.scheme}://{sim_root.netloc}"
        before = sim_state(sim_root, user)
        expect(before[1] == "atRisk", f"the user is at risk before anyone acts: {before}")
        driver.save_screenshot(os.path.join(shots, "1-sign-in.png"))
        element(driver, "analyst-0", "the sign-in page").click()
        expect(element(driver, "analyst", "the confirm page").text == "secops@contoso.com", "signed in as the operator")
        expect("atRisk" in element(driver, "risk", "the confirm page").text, "the live risk is shown")
        driver.save_screenshot(os.path.join(shots, "2-confirm.png"))

        # The same session, its form posted without and with a wrong CSRF token: refused.
        jar = http.cookiejar.CookieJar()
        for c in driver.get_cookies():
            jar.set_cookie(http.cookiejar.Cookie(
                0, c["name"], c["value"], None, False, "127.0.0.1", False, False,
                c.get("path", "/"), True, False, None, False, None, None, {}))
        same_session, _ = client(jar)
        token = confirm.rsplit("/", 1)[1]
        for form in [b"", b"csrf=forged"]:
            status, _, body = call(same_session, f"{public}/actions/{token}", data=form)
            expect(status == 403, f"POST {form!r} answered {status}")
        expect(sim_state(sim_root, user) == before, "a refused POST changed nothing")

        element(driver, "confirm", "the confirm page").click()
        done = element(driver, "done", "after confirming").text
        expect(done == "Confirmed compromised", f"done page: {done}")
        expect("by secops@contoso.com" in driver.page_source, "the done page names the analyst")
        driver.save_screenshot(os.path.join(shots, "3-done.png"))
        expect(sim_state(sim_root, user) == ("high", "confirmedCompromised"),
               f"the simulated user is confirmed compromised: {sim_state(sim_root, user)}")
        def follow_ups():
            return [p for p in Slack.posts if p.get("text", "").startswith("⚪ Confirmed compromised:")
                    and "by secops@contoso.com" in p["text"]]
        wait_for("the follow-up message", follow_ups, 20)
        expect(len(follow_ups()) == 1, f"one follow-up message: {follow_ups()}")

        # The analyst without a role: told which role, nothing changes.
        driver.quit()
        driver = browser(shots)
        dismiss = links["Dismiss user risk"]
        driver.get(dismiss)
        element(driver, "signin", "the landing page").click()
        element(driver, "analyst-1", "the sign-in page").click()
        problem = element(driver, "problem", "the analyst without a role").text
        expect(problem == "Graph refused to show the user's risk", f"no-role page: {problem}")
        driver.save_screenshot(os.path.join(shots, "4-needs-role.png"))
        expect(sim_state(sim_root, user) == ("high", "confirmedCompromised"), "nothing changed")

        # Expired and tampered links: a clear page, no sign-in started.
        expired = dict(claims, e=int(time.time()) - 60)
        status, headers, body = call(scanner, f"{public}/actions/{sign_link(expired)}")
        expect(status == 410 and "This link has expired" in body, f"expired link: {status}")
        tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
        for path in [f"/actions/{tampered}", f"/actions/signin/{tampered}"]:
            status, headers, body = call(scanner, public + path)
            expect(status == 400 and "This link is not valid" in body, f"tampered link {path}: {status}")
            expect(headers.get("location") is None, "a bad link redirects nowhere")
        # A link for another user made with the right key is honoured: the test's own signer
        # agrees with riskrelay's format (so the refusals above are about expiry and tampering).
        status, _, body = call(scanner, f"{public}/actions/{sign_link(dict(claims, a='revoke'))}")
        expect(status == 200 and "Revoke sessions?" in body, f"a well-signed link: {status}")

        # A replayed sign-in answer (the same state and code): refused.
        replay, _ = client()
        status, headers, _ = call(replay, f"{public}/actions/signin/{token}")
        expect(status == 303, f"sign-in start: {status}")
        status, _, page = call(replay, headers["location"])
        start = page.index('id="analyst-0" href="') + len('id="analyst-0" href="')
        pick = page[start:page.index('"', start)].replace("&amp;", "&")
        status, headers, _ = call(replay, sim_root + pick)
        callback = headers["location"]
        expect("/actions/callback?" in callback, f"callback: {callback}")
        status, _, _ = call(replay, callback)
        expect(status == 303, f"first answer: {status}")
        status, _, body = call(replay, callback)
        expect(status == 400 and "already used" in body, f"replayed answer: {status}")

        # The status page: a client without a session is sent to sign in and shown nothing; the
        # Security Reader (analyst 2) sees it, with its chart and no script.
        status, headers, body = call(scanner, f"{public}/status")
        expect(status == 303 and "/oauth2/v2.0/authorize" in headers.get("location", ""),
               f"the status page without sign-in: {status}")
        expect("Last successful poll" not in body, "nothing shown before sign-in")
        driver.quit()
        driver = browser(shots)
        driver.get(f"{public}/status")
        element(driver, "analyst-2", "the sign-in page").click()
        expect("Last successful poll" in element(driver, "tenant", "the status page").text,
               "the status page shows the tenant")
        element(driver, "alerts-chart", "the status page's chart")
        expect("<script" not in driver.page_source, "no script on the status page")
        driver.save_screenshot(os.path.join(shots, "5-status.png"))

        # Nothing secret in riskrelay's log.
        service.terminate()
        service.wait(timeout=20)
        text = open(log_path).read()
        for secret in ["sim-user-", "simcode-", "eyJ", LINK_KEY, SIM_SECRET, "br0wserTestSecret"]:
            expect(secret not in text, f"{secret} appears in riskrelay's log")
        print(f"browser test passed: sign-in, confirm, done, role refusal, CSRF, expired, tampered and "
              f"replayed answers, the status page; {len(Slack.posts)} Slack posts; screenshots in {shots}")
    finally:
        if driver is not None:
            driver.quit()
        if service.poll() is None:
            service.kill()
        slack.shutdown()


if __name__ == "__main__":
    main()
