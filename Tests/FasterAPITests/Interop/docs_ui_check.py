"""Drives the /docs page in headless Chromium and checks that it works end to end.

Usage:
  docs_ui_check.py --url http://127.0.0.1:PORT/docs --expect-operations opA,opB
                   [--try OPERATION_ID [--param name=value ...] [--body JSON]
                    [--body-field name=value ...] [--expect-status 200]]
                   [--oauth2 USER:PASSWORD [--scopes a,b]]
                   [--authorize SCHEME --auth-field key=value ...]
                   [--screenshot PATH] [--spki HASH] [--expect-protocol h2]

Loads the page and waits for `data-ready` on `#docs-root` (or fails with its `data-error`),
asserts that every expected operation is rendered and prints the rendered operation ids with
their tags. `--oauth2` logs in through the Authorize dialog's OAuth2 password flow (and
`--authorize` fills any scheme's fields by their `data-auth-field` names) before trying an
operation. `--try` expands the operation, opens "Try it out", fills the parameters
(`data-param`), the JSON body and the form fields (`data-body-field`), executes, waits for the
status and checks it, then prints the response body. Repeating `--param` with one name fills an
array parameter (one value per line). Every wait is bounded (at most 20 s). Exits 0 on success,
1 with a message on the first failure; uncaught JavaScript errors also fail the check.
`--spki` trusts a self-signed certificate by the base64 SHA-256 of its public key (Chromium's
`--ignore-certificate-errors-spki-list`), and `--expect-protocol` checks the protocol the page and
its fetches went over (`h2` for HTTP/2), as the browser's resource timing reports it.
"""

import argparse
import json
import sys

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

MAX_WAIT = 20.0


class CheckFailed(Exception):
    pass


def parse_pairs(values, flag):
    """`name=value` strings as (name, value) pairs, in order."""
    pairs = []
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CheckFailed(f"{flag} expects name=value, got {item!r}")
        pairs.append((name, value))
    return pairs


def css_string(value):
    """`value` as a quoted CSS string, for attribute selectors."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\a ") + '"'


def make_driver(window_size, spki=None):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={window_size}"):
        options.add_argument(argument)
    if spki:
        options.add_argument(f"--ignore-certificate-errors-spki-list={spki}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(MAX_WAIT)
    driver.set_script_timeout(MAX_WAIT)
    return driver


def wait_for(driver, condition, timeout, what):
    try:
        wait = WebDriverWait(driver, timeout, poll_frequency=0.1, ignored_exceptions=[StaleElementReferenceException])
        return wait.until(lambda d: condition(d))
    except TimeoutException:
        raise CheckFailed(f"timed out after {timeout:g} s waiting for {what}") from None


def click(driver, element):
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()


def set_value(element, values):
    """Fills an input, textarea or select; several values go one per line (array inputs)."""
    if element.tag_name == "select":
        Select(element).select_by_value(values[-1])
        return
    element.clear()
    text = "\n".join(values)
    if text:
        element.send_keys(text)


def load_page(driver, args):
    driver.get(args.url)
    root = wait_for(
        driver,
        lambda d: next(
            (e for e in d.find_elements(By.ID, "docs-root")
             if e.get_attribute("data-ready") == "true" or e.get_attribute("data-error")),
            False,
        ),
        args.timeout,
        "#docs-root[data-ready] (the page never finished rendering)",
    )
    error = root.get_attribute("data-error")
    if error:
        raise CheckFailed(f"the page could not render the OpenAPI document: {error}")
    title = driver.find_element(By.ID, "api-title").text
    print(f"page ready: {title!r}")


def check_operations(driver, expected):
    rendered = driver.execute_script(
        """
        return [...document.querySelectorAll('[data-operation-id]')].map(op => {
          const tag = op.closest('[data-tag]');
          return [op.dataset.operationId, tag ? tag.dataset.tag : '', op.dataset.method, op.dataset.path];
        });
        """
    )
    print(f"rendered operations ({len(rendered)}):")
    for operation_id, tag, method, path in rendered:
        print(f"  [{tag}] {method.upper():7} {path}  {operation_id}")
    ids = {row[0] for row in rendered}
    missing = [operation_id for operation_id in expected if operation_id not in ids]
    if missing:
        raise CheckFailed(f"operations not rendered: {', '.join(missing)}")
    if expected:
        print(f"all {len(expected)} expected operations are rendered")


def authorize(driver, args, scheme, fields, scopes):
    opener = driver.find_elements(By.CSS_SELECTOR, '#toolbar [data-action="open-authorize"]')
    if not opener:
        raise CheckFailed("no Authorize button: the document declares no security schemes")
    click(driver, opener[0])
    dialog = wait_for(
        driver, lambda d: d.find_element(By.ID, "auth-dialog").get_attribute("open") is not None
        and d.find_element(By.ID, "auth-dialog"), args.timeout, "the Authorize dialog to open")

    def section():
        if scheme:
            found = dialog.find_elements(By.CSS_SELECTOR, f"[data-scheme={css_string(scheme)}]")
        else:  # the first OAuth2 password flow: it asks for a username and a client id
            found = [s for s in dialog.find_elements(By.CSS_SELECTOR, "[data-scheme]")
                     if s.find_elements(By.CSS_SELECTOR, '[data-auth-field="username"]')
                     and s.find_elements(By.CSS_SELECTOR, '[data-auth-field="client_id"]')]
        return found[0] if found else None

    box = section()
    if box is None:
        raise CheckFailed(f"no security scheme {scheme or '(OAuth2 password flow)'} in the Authorize dialog")
    name = scheme = box.get_attribute("data-scheme")  # the dialog re-renders: find it by name from now on
    for key, value in fields:
        inputs = box.find_elements(By.CSS_SELECTOR, f"[data-auth-field={css_string(key)}]")
        if not inputs:
            raise CheckFailed(f"scheme {name} has no field {key!r}")
        set_value(inputs[0], [value])
    for scope in scopes:
        boxes = box.find_elements(By.CSS_SELECTOR, f"input[data-scope={css_string(scope)}]")
        if not boxes:
            raise CheckFailed(f"scheme {name} offers no scope {scope!r}")
        if not boxes[0].is_selected():
            boxes[0].click()
    click(driver, box.find_element(By.CSS_SELECTOR, '[data-action="authorize"]'))

    def outcome(d):
        current = section()
        if current is None:
            return False
        if current.get_attribute("data-authorized") == "true":
            return ("ok", current.find_element(By.CSS_SELECTOR, '[data-role="auth-status"]').text)
        status = current.find_elements(By.CSS_SELECTOR, '[data-role="auth-status"][data-state="error"]')
        return ("error", status[0].text) if status else False

    result, message = wait_for(driver, outcome, args.timeout, f"authorization with {name}")
    if result != "ok":
        raise CheckFailed(f"authorizing with {name} failed: {message}")
    print(f"authorized with {name}: {message}")
    click(driver, dialog.find_element(By.CSS_SELECTOR, '[data-action="close-authorize"]'))
    wait_for(driver, lambda d: d.find_element(By.ID, "auth-dialog").get_attribute("open") is None,
             args.timeout, "the Authorize dialog to close")


def try_operation(driver, args):
    selector = f"[data-operation-id={css_string(args.try_operation)}]"
    operations = driver.find_elements(By.CSS_SELECTOR, selector)
    if not operations:
        raise CheckFailed(f"operation {args.try_operation} is not rendered")
    operation = operations[0]
    head = operation.find_element(By.CSS_SELECTOR, '[data-action="toggle"]')
    if head.get_attribute("aria-expanded") != "true":
        click(driver, head)
    try_button = wait_for(
        driver, lambda d: next((b for b in operation.find_elements(By.CSS_SELECTOR, '[data-action="try"]')
                                if b.is_displayed()), False),
        args.timeout, f"the try-it button of {args.try_operation}")
    click(driver, try_button)

    params = {}
    for name, value in parse_pairs(args.param, "--param"):
        params.setdefault(name, []).append(value)
    for name, values in params.items():
        inputs = operation.find_elements(By.CSS_SELECTOR, f"[data-param={css_string(name)}]")
        if not inputs:
            raise CheckFailed(f"operation {args.try_operation} has no parameter input {name!r}")
        set_value(inputs[0], values)
    if args.body is not None:
        areas = operation.find_elements(By.CSS_SELECTOR, 'textarea[data-role="request-body"]')
        if not areas:
            raise CheckFailed(f"operation {args.try_operation} has no request body editor")
        driver.execute_script(
            "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'));", areas[0], args.body)
    body_fields = {}
    for name, value in parse_pairs(args.body_field, "--body-field"):
        body_fields.setdefault(name, []).append(value)
    for name, values in body_fields.items():
        inputs = operation.find_elements(By.CSS_SELECTOR, f"[data-body-field={css_string(name)}]")
        if not inputs:
            raise CheckFailed(f"operation {args.try_operation} has no body field {name!r}")
        if inputs[0].get_attribute("type") == "file":
            inputs[0].send_keys("\n".join(values))  # absolute file paths
        else:
            set_value(inputs[0], values)

    status = operation.find_element(By.CSS_SELECTOR, '[data-role="status"]')
    click(driver, operation.find_element(By.CSS_SELECTOR, '[data-action="execute"]'))

    def finished(d):
        if status.get_attribute("data-code"):
            return "done"
        problem = operation.find_elements(By.CSS_SELECTOR, ".try-error")
        return ("invalid", problem[0].text) if problem and problem[0].text else False

    result = wait_for(driver, finished, args.timeout, f"the response of {args.try_operation}")
    if result != "done":
        raise CheckFailed(f"the page refused to send the request: {result[1]}")
    code = int(status.get_attribute("data-code"))
    url = operation.find_element(By.CSS_SELECTOR, '[data-role="request-url"]').text
    body = operation.find_element(By.CSS_SELECTOR, '[data-role="response-body"]').get_attribute("textContent")
    print(f"request URL: {url}")
    print(f"status: {status.text}")
    print("response body:")
    print(body)
    if code == 0:
        raise CheckFailed(f"the request failed in the browser: {status.text}")
    if args.expect_status is not None and code != args.expect_status:
        raise CheckFailed(f"{args.try_operation} answered {code}, expected {args.expect_status}")


def browser_errors(driver):
    try:
        entries = driver.get_log("browser")
    except WebDriverException:
        return []
    for entry in entries:
        if entry.get("level") in ("SEVERE", "WARNING"):
            print(f"browser console [{entry['level']}]: {entry['message']}")
    return [e["message"] for e in entries if e.get("level") == "SEVERE" and "Uncaught" in e["message"]]


def screenshot(driver, path):
    """Saves the whole page (the window grows to the document's height, up to 8000 px)."""
    width = driver.get_window_size()["width"]
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(height, 600), 8000))
    driver.execute_script("window.scrollTo(0, 0);")
    driver.save_screenshot(path)
    print(f"screenshot: {path}")


def check_protocol(driver, expected):
    """Every resource the page loaded (the page, the OpenAPI document, try-it fetches) went over `expected`."""
    entries = driver.execute_script(
        "return performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))"
        ".map(e => [e.name, e.nextHopProtocol])"
    )
    if not entries:
        raise CheckFailed("the browser reported no resource timing")
    wrong = [entry for entry in entries if entry[1] != expected]
    if wrong:
        raise CheckFailed(f"resources not loaded over {expected}: {json.dumps(wrong)}")
    print(f"protocol {expected}: " + ", ".join(name for name, _ in entries))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the /docs page")
    parser.add_argument("--expect-operations", default="", help="comma-separated operation ids that must be rendered")
    parser.add_argument("--try", dest="try_operation", help="operation id to execute through the page")
    parser.add_argument("--param", action="append", default=[], help="name=value for a parameter input")
    parser.add_argument("--body", help="JSON text for the request body editor")
    parser.add_argument("--body-field", action="append", default=[], help="name=value for a form body field")
    parser.add_argument("--expect-status", type=int, default=200, help="expected status code (default 200)")
    parser.add_argument("--oauth2", metavar="USER:PASSWORD", help="authorize with the OAuth2 password flow first")
    parser.add_argument("--scopes", default="", help="comma-separated OAuth2 scopes to request")
    parser.add_argument("--authorize", metavar="SCHEME", help="security scheme to fill with --auth-field")
    parser.add_argument("--auth-field", action="append", default=[], help="key=value for the Authorize form")
    parser.add_argument("--screenshot", help="save a screenshot here at the end")
    parser.add_argument("--window-size", default="1280,1600", help="browser window size W,H")
    parser.add_argument("--spki", help="trust the server certificate with this SPKI hash")
    parser.add_argument("--expect-protocol", help="protocol every resource must use (h2, http/1.1)")
    parser.add_argument("--timeout", type=float, default=MAX_WAIT, help="seconds for each wait (at most 20)")
    args = parser.parse_args()
    args.timeout = max(1.0, min(args.timeout, MAX_WAIT))
    expected = [item.strip() for item in args.expect_operations.split(",") if item.strip()]
    scopes = [item.strip() for item in args.scopes.split(",") if item.strip()]

    try:
        driver = make_driver(args.window_size, args.spki)
    except WebDriverException as error:
        print(f"FAIL: could not start headless Chromium: {error.msg}")
        return 1
    try:
        load_page(driver, args)
        check_operations(driver, expected)
        if args.oauth2:
            user, sep, password = args.oauth2.partition(":")
            if not sep:
                raise CheckFailed("--oauth2 expects USER:PASSWORD")
            authorize(driver, args, args.authorize, [("username", user), ("password", password)], scopes)
        elif args.authorize:
            authorize(driver, args, args.authorize, parse_pairs(args.auth_field, "--auth-field"), scopes)
        if args.try_operation:
            try_operation(driver, args)
        if args.expect_protocol:
            check_protocol(driver, args.expect_protocol)
        errors = browser_errors(driver)
        if errors:
            raise CheckFailed("JavaScript errors on the page: " + json.dumps(errors))
        if args.screenshot:
            screenshot(driver, args.screenshot)
    except CheckFailed as failure:
        browser_errors(driver)
        print(f"FAIL: {failure}")
        if args.screenshot:
            screenshot(driver, args.screenshot)
        return 1
    except WebDriverException as error:
        print(f"FAIL: browser error: {error.msg}")
        return 1
    finally:
        driver.quit()
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
