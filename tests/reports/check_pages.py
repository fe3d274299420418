#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks p9x-conform's HTML pages in a real browser (headless Chromium) and with tidy.

    check_pages.py --out DIR PAGE.html...

For each page: tidy reports no error; Chromium loads it from disk with no console error and no
uncaught exception; every filter of the page's filter form changes which rows are shown, and the
rows shown are exactly those that match; at 390 px width the page does not scroll horizontally;
printed to PDF (Page.printToPDF), its first page shows the summary. Keeps a screenshot of each
page at desktop and phone width, and the PDF, in DIR. Exit 0 when every check passes, 1 otherwise,
77 when chromium, tidy or pdftotext is missing.

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON messages
separated by NUL bytes on file descriptors 3 and 4), so nothing listens on a port.
"""
import argparse
import base64
import json
import os
import pathlib
import select
import shutil
import subprocess
import sys
import tempfile
import time

TIMEOUT_S = 30


class Browser:
    """One headless Chromium, one page, spoken to over --remote-debugging-pipe."""

    def __init__(self, binary):
        self.profile = tempfile.mkdtemp(prefix="p9x-chromium.")
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()

        def wire_fds():
            # Chromium reads fd 3 and writes fd 4. Copy both ends above 4 first, so that neither
            # dup2 overwrites the other end when the pipes themselves got descriptors 3 or 4.
            read_end, write_end = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        args = [binary, "--headless=new", "--remote-debugging-pipe", "--no-first-run", "--no-default-browser-check",
                "--disable-gpu", "--disable-extensions", "--disable-background-networking", "--disable-sync",
                "--mute-audio", "--hide-scrollbars", f"--user-data-dir={self.profile}", "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        self.proc = subprocess.Popen(args, pass_fds=(3, 4, to_child_r, from_child_w), preexec_fn=wire_fds,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(to_child_r)
        os.close(from_child_w)
        self.buffer = b""
        self.next_id = 0
        self.events = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)

    def _read_message(self, deadline):
        while b"\0" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("chromium did not answer in time")
            ready, _, _ = select.select([self.from_child], [], [], remaining)
            if ready:
                chunk = os.read(self.from_child, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe: " + self.proc.stderr.read().decode()[-2000:])
                self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, params=None, session=False):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self.to_child, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method):
        deadline = time.monotonic() + TIMEOUT_S
        for i, event in enumerate(self.events):
            if event["method"] == method:
                return self.events.pop(i)
        while True:
            event = self._read_message(deadline)
            if event.get("method") == method:
                return event
            if "method" in event:
                self.events.append(event)

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluate: {result['exceptionDetails']}")
        return result["result"].get("value")

    def load(self, url, width, height):
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}, session=True)
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait_event("Page.loadEventFired")

    def console_errors(self):
        errors = []
        for event in self.events:
            params = event.get("params", {})
            if event["method"] == "Runtime.exceptionThrown":
                errors.append("uncaught exception: " + json.dumps(params.get("exceptionDetails", {}))[:500])
            elif event["method"] == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append("console." + params["type"] + ": " + json.dumps(params.get("args", []))[:500])
            elif event["method"] == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                errors.append("log: " + params["entry"].get("text", "")[:500])
        self.events.clear()
        return errors

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:  # noqa: BLE001 - the browser may already be gone
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_child)
        os.close(self.from_child)
        shutil.rmtree(self.profile, ignore_errors=True)


# Runs in the page: for each filter of form.filters, each value in turn (the others reset), checks
# that the rows shown are exactly the matching ones; returns what it found.
FILTER_CHECK = r"""
(function () {
  var form = document.querySelector('form.filters');
  if (!form) return {error: 'no form.filters on the page'};
  var rows = Array.prototype.slice.call(document.querySelectorAll('.row'));
  var visible = function (r) { return r.getClientRects().length > 0; };
  var result = {rows: rows.length, filters: {}, problems: []};
  var controls = Array.prototype.slice.call(form.querySelectorAll('select, input[type=checkbox]'));
  function reset() {
    controls.forEach(function (c) { if (c.type === 'checkbox') c.checked = false; else c.value = ''; });
    form.dispatchEvent(new Event('change'));
  }
  reset();
  var all = rows.filter(visible).length;
  if (all !== rows.length) result.problems.push('with no filter ' + all + ' of ' + rows.length + ' rows shown');
  controls.forEach(function (c) {
    var values = c.type === 'checkbox' ? [true]
        : Array.prototype.slice.call(c.options).map(function (o) { return o.value; }).filter(Boolean);
    var changed = 0;
    values.forEach(function (v) {
      reset();
      if (c.type === 'checkbox') c.checked = true; else c.value = v;
      c.dispatchEvent(new Event('change', {bubbles: true}));
      var shown = rows.filter(visible);
      if (shown.length !== all) changed++;
      rows.forEach(function (r) {
        var match;
        if (c.type === 'checkbox') match = r.getAttribute('data-' + c.name) === 'yes';
        else if (c.name === 'status') match = r.getAttribute('data-status').split(' ').indexOf(v) >= 0;
        else match = r.getAttribute('data-' + c.name) === v;
        if (match !== visible(r)) result.problems.push(c.name + '=' + v + ': ' + r.textContent.trim().slice(0, 80) +
                                                       (match ? ' hidden' : ' shown'));
      });
      var counter = document.getElementById('shown');
      if (counter && counter.textContent.indexOf(shown.length + ' of ' + rows.length) !== 0)
        result.problems.push(c.name + '=' + v + ': the counter says "' + counter.textContent + '"');
    });
    result.filters[c.name] = {values: values.length, changed: changed};
  });
  reset();
  return result;
})()
"""


def check_page(browser, page, out_dir):
    problems = []
    name = page.stem
    tidy = subprocess.run(["tidy", "-q", "-e", "--show-warnings", "yes", str(page)], capture_output=True, text=True)
    if tidy.returncode >= 2:
        problems.append("tidy found errors:\n" + tidy.stderr)
    elif tidy.stderr.strip():
        print(f"{name}: tidy warnings (not errors):\n{tidy.stderr}")

    url = page.resolve().as_uri()
    browser.load(url, 1280, 900)
    problems += [f"desktop: {e}" for e in browser.console_errors()]
    filters = browser.evaluate(FILTER_CHECK)
    if "error" in filters:
        problems.append(filters["error"])
    else:
        problems += filters["problems"][:20]
        for control, seen in filters["filters"].items():
            if seen["changed"] == 0 and seen["values"] > 1:
                problems.append(f"filter {control}: none of its {seen['values']} values changes what is shown")
        print(f"{name}: {filters['rows']} rows; filters " +
              ", ".join(f"{c} ({s['changed']} of {s['values']} values change the rows)" for c, s in filters["filters"].items()))
    # The desktop screenshot shows the top of the page down to the first cases (at most 2400 px).
    height = min(2400, browser.evaluate("document.documentElement.scrollHeight"))
    shot = browser.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                   "clip": {"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1}},
                        session=True)
    (out_dir / f"{name}-desktop.png").write_bytes(base64.b64decode(shot["data"]))

    pdf = browser.call("Page.printToPDF", {"printBackground": True}, session=True)
    pdf_path = out_dir / f"{name}.pdf"
    pdf_path.write_bytes(base64.b64decode(pdf["data"]))
    first_page = subprocess.run(["pdftotext", "-f", "1", "-l", "1", "-layout", str(pdf_path), "-"],
                                capture_output=True, text=True).stdout
    for needle in ("Summary", "CONFORMANCE SUITE") if "Per level" in page.read_text() else ("Servers", "Per area"):
        if needle not in first_page:
            problems.append(f"the PDF's first page does not show {needle!r}:\n{first_page[:1500]}")

    browser.load(url, 390, 844)
    problems += [f"390 px: {e}" for e in browser.console_errors()]
    widths = browser.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    if widths[0] > widths[1]:
        wide = browser.evaluate("""Array.prototype.slice.call(document.querySelectorAll('body *'))
            .filter(function (e) { return e.getBoundingClientRect().right > document.documentElement.clientWidth + 1; })
            .slice(0, 5).map(function (e) { return e.tagName + '.' + e.className; }).join(', ')""")
        problems.append(f"at 390 px the page scrolls horizontally (scrollWidth {widths[0]} > {widths[1]}): {wide}")
    shot = browser.call("Page.captureScreenshot", {"format": "png"}, session=True)
    (out_dir / f"{name}-390px.png").write_bytes(base64.b64decode(shot["data"]))
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="where the screenshots and PDFs go")
    parser.add_argument("pages", nargs="+", type=pathlib.Path)
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    for tool, path in (("chromium", chromium), ("tidy", shutil.which("tidy")), ("pdftotext", shutil.which("pdftotext"))):
        if path is None:
            print(f"SKIPPED: {tool} is not installed (scripts/setup.sh installs it)")
            return 77
    missing = [str(p) for p in args.pages if not p.is_file()]
    if missing:
        print("check_pages.py: no such page: " + ", ".join(missing))
        return 1
    out_dir = pathlib.Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    failed = False
    browser = Browser(chromium)
    try:
        for page in args.pages:
            problems = check_page(browser, page, out_dir)
            for p in problems:
                print(f"FAIL {page.name}: {p}")
            failed |= bool(problems)
            print(f"{'FAIL' if problems else 'ok  '} {page}  (screenshots: {out_dir}/{page.stem}-desktop.png, "
                  f"{page.stem}-390px.png; PDF: {page.stem}.pdf)")
    finally:
        browser.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
