#!/usr/bin/python3
"""The console's flows in headless Chromium (Debian's chromium and chromium-driver, driven
by Debian's python3-selenium), against the real listener behind nginx.

    console_browser.py BASE USER PASSWORD EMAIL TX HANDLER SCREENSHOTS

BASE is the console's URL; EMAIL and TX name an event whose delivery to HANDLER is a dead
letter (the CRM now accepts it). Prints one JSON object per check ({"check", "ok", "detail"})
and exits 1 if any failed. Screenshots of each page go to SCREENSHOTS (the README's come
from here).
"""
import json
import sys
import time
import urllib.parse

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

base, user, password, email, tx, handler, shots = sys.argv[1:8]
failures = 0


def check(name, ok, detail=""):
    global failures
    if not ok:
        failures += 1
    print(json.dumps({"check": name, "ok": bool(ok), "detail": str(detail)[:500]}), flush=True)


def loaded():
    """Waits until the current page has loaded whole (a loaded machine can be slow)."""
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete"
                                    and d.find_elements(By.TAG_NAME, "h1"))


def h1():
    loaded()
    return driver.find_element(By.TAG_NAME, "h1").text


def shot(name):
    driver.save_screenshot(f"{shots}/{name}.png")


def navigating(element):
    """Clicks `element` and waits until the next page has replaced this one."""
    page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 30).until(expected_conditions.staleness_of(page))
    loaded()


def submit(form_selector):
    navigating(driver.find_element(By.CSS_SELECTOR, form_selector).find_element(By.CSS_SELECTOR, "button[type=submit]"))


options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,860", "--hide-scrollbars", "--force-device-scale-factor=1"]:
    options.add_argument(argument)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.set_page_load_timeout(30)
try:
    # Without a session every page leads to the login form.
    driver.get(base + "/events")
    check("no-session-redirects-to-login", driver.current_url.endswith("/login") and h1() == "Log in", driver.current_url)
    shot("login")

    driver.find_element(By.NAME, "user").send_keys(user)
    driver.find_element(By.NAME, "password").send_keys(password)
    submit("form.login")
    check("log-in", h1() == "Overview" and driver.current_url.endswith("/"), f"{driver.current_url} {h1()}")
    shot("overview")

    # Find the contact by email.
    driver.get(base + "/events")
    driver.find_element(By.NAME, "email").send_keys(email.upper())
    submit("form.search")
    rows = driver.find_elements(By.CSS_SELECTOR, "table tr")
    found = [row for row in rows if tx in row.text]
    check("find-contact-by-email", len(found) == 1 and all(email in row.text for row in rows[1:]), [row.text for row in rows])
    shot("events")

    # Open its event.
    navigating(found[0].find_element(By.PARTIAL_LINK_TEXT, "#"))
    text = driver.find_element(By.TAG_NAME, "main").text
    check("open-event", h1().startswith("Event #") and email in text and tx in text and "dead" in text, text[:300])
    event_url = driver.current_url
    shot("event")

    # The contact's page.
    navigating(driver.find_element(By.PARTIAL_LINK_TEXT, "All events of this contact"))
    text = driver.find_element(By.TAG_NAME, "main").text
    history = [row.text for row in driver.find_elements(By.XPATH, "//h2[text()='Fields over time']/following-sibling::table[1]//tr")]
    check("contact-page", h1() == email and tx in text and "contact_field_history" in text
          and any(row.startswith("First Name Ann Annie ") for row in history) and any(row.startswith("First Name – Ann ") for row in history),
          text[:800])
    shot("contact")

    # A POST from this console page without the CSRF token: refused, nothing changes.
    driver.get(event_url)
    page = driver.find_element(By.TAG_NAME, "html")
    driver.execute_script("""
        const form = document.createElement('form');
        form.method = 'post'; form.action = arguments[0] + '/retry';
        for (const [name, value] of [['handler', arguments[1]], ['event[]', arguments[2]], ['confirm', 'yes']]) {
            const input = document.createElement('input'); input.type = 'hidden'; input.name = name; input.value = value; form.appendChild(input);
        }
        document.body.appendChild(form); form.submit();
    """, base, handler, event_url.rsplit("/", 1)[-1])
    WebDriverWait(driver, 30).until(expected_conditions.staleness_of(page))
    loaded()
    check("post-without-csrf-token-refused", h1() == "Refused", h1())

    # A cross-site page posting to the console: the browser sends no cookie (SameSite=Strict)
    # and the console refuses.
    page = ("<form method=post action='%s/retry'><input type=hidden name=handler value='%s'>"
            "<input type=hidden name='event[]' value='%s'><input type=hidden name=confirm value=yes>"
            "<button type=submit>go</button></form>") % (base, handler, event_url.rsplit("/", 1)[-1])
    driver.get("data:text/html," + urllib.parse.quote(page))
    navigating(driver.find_element(By.TAG_NAME, "button"))
    check("cross-site-post-refused", h1() in ("Session ended", "Refused"), h1())
    driver.get(event_url)
    check("refused-posts-changed-nothing", "dead" in driver.find_element(By.TAG_NAME, "main").text)

    # Retry the dead letter from the failures page, confirm, and see it delivered.
    driver.get(f"{base}/failures?handler={urllib.parse.quote(handler)}&state=dead")
    shot("failures")
    rows = [row for row in driver.find_elements(By.CSS_SELECTOR, "table tr") if tx in row.text]
    check("dead-letter-listed", len(rows) == 1, driver.find_element(By.TAG_NAME, "main").text[:400])
    navigating(rows[0].find_element(By.XPATH, ".//button[text()='Retry']"))
    check("retry-asks-first", h1() == "Retry", h1())
    shot("confirm")
    navigating(driver.find_element(By.XPATH, "//button[starts-with(text(), 'Yes, retry')]"))
    delivered = False
    for _ in range(120):
        driver.get(event_url)
        state = driver.find_elements(By.XPATH, f"//tr[td[1][text()='{handler}']]/td[2]")
        if state and state[0].text == "delivered":
            delivered = True
            break
        time.sleep(0.5)
    check("retried-dead-letter-delivered", delivered, driver.find_element(By.TAG_NAME, "main").text[:400])

    # Log out; the console is closed again.
    submit("form.logout")
    check("log-out", driver.current_url.endswith("/login") and h1() == "Log in", driver.current_url)
    driver.get(base + "/")
    check("after-logout-redirects-to-login", driver.current_url.endswith("/login"), driver.current_url)
except Exception as error:  # any failure is a failed check, with what the page showed
    check("browser", False, f"{type(error).__name__}: {error}; at {driver.current_url}")
finally:
    driver.quit()
sys.exit(1 if failures else 0)
