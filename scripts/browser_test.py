"""Run every notebook in JupyterLab in a real headless Chromium, as a learner would, and drive its widgets.

    python scripts/browser_test.py [NOTEBOOK_DIR] [--jupyter PATH] [--out DIR] [--break-callbacks]

`make browser-test` installs what this needs and calls it. For each notebook: open its learner copy (made from
NOTEBOOK_DIR in a scratch folder by `python -m helpers learner-copies`, as `make lab` makes them: no solutions),
clear its outputs, Run All from the menu, wait for the kernel to go idle, fail on any error output outside cells
tagged `raises-exception`, on cells Run All never reached and on an exercise check that does not say "not yet",
drive the notebook's widget, save one screenshot. With --break-callbacks the functions the widget callbacks call are replaced in the kernel
(after Run All, so the notebook itself still runs) by ones that raise or do nothing, and the run passes only if
every widget check then FAILS: proof that the checks notice a dead widget.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Locator, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SERVER_START_S = 90
NOTEBOOK_TIMEOUT_S = 900
WIDGET_TIMEOUT_S = 30
# What the notebooks' kernels must not inherit from the shell: the lab runs offline, on its own account.
UNSET_ENV = ("MPLBACKEND", "LAB_AWS_MODE", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")


@dataclass
class Result:
    name: str
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    widgets: list[str] = field(default_factory=list)  # "what was checked: ok" or "...: FAILED (why)"

    @property
    def ok(self) -> bool:
        return not self.errors and not any("FAILED" in w for w in self.widgets)

    def line(self) -> str:
        widgets = "; ".join(self.widgets) or "no widget"
        errors = f"{len(self.errors)} error(s)" + (": " + " | ".join(self.errors) if self.errors else "")
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name:34s} {self.seconds:6.1f} s  {errors}  widgets: {widgets}"


# --------------------------------------------------------------------------- the server

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_lab_settings(settings: Path) -> None:
    """No news or update checks: nothing to fetch offline, and no toast over the notebook in the screenshots."""
    target = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))


def server_env(scratch: Path) -> dict[str, str]:
    """An empty work folder and offline AWS account, and none of this machine's Jupyter config, settings or kernels."""
    env = {k: v for k, v in os.environ.items() if k not in UNSET_ENV}
    env.update(LAB_WORK_DIR=str(scratch / "work"), LAB_STATE_DIR=str(scratch / "state"),
               LAB_LEARNER_DIR=str(scratch / "my-notebooks"),
               JUPYTER_CONFIG_DIR=str(scratch / "config"), JUPYTER_DATA_DIR=str(scratch / "data"),
               JUPYTERLAB_SETTINGS_DIR=str(scratch / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(scratch / "workspaces"),
               JUPYTER_RUNTIME_DIR=str(scratch / "runtime"), AWS_CONFIG_FILE="/dev/null",
               AWS_SHARED_CREDENTIALS_FILE="/dev/null", PYTHONHASHSEED="0", TZ="UTC")
    return env


def start_server(jupyter: str, root_dir: Path, scratch: Path, port: int, token: str) -> subprocess.Popen:
    write_lab_settings(scratch / "settings")
    command = [jupyter, "lab", "--no-browser", "--ip", "127.0.0.1", f"--port={port}", "--port-retries=0",
               f"--ServerApp.token={token}", f"--ServerApp.root_dir={root_dir}",
               "--LabApp.expose_app_in_browser=True"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = open(scratch / "jupyter.log", "wb")
    return subprocess.Popen(command, env=server_env(scratch), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for_server(server: subprocess.Popen, port: int, token: str, log: Path) -> None:
    url = f"http://127.0.0.1:{port}/api/status?token={token}"
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"JupyterLab exited with code {server.returncode} before it was ready; its log:\n"
                     + log.read_text(errors="replace")[-3000:])
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"JupyterLab did not answer on 127.0.0.1:{port} within {SERVER_START_S} s; see {log}")


def stop_server(server: subprocess.Popen) -> None:
    """Stop JupyterLab and the kernels it started (one process group), by its PID."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


# --------------------------------------------------------------------------- one notebook in the page

def js(page: Page, body: str, arg=None):
    """Evaluate `body` (an async function body) with `app` = window.jupyterapp and `nb` = the open notebook panel."""
    return page.evaluate(f"async (arg) => {{ const app = window.jupyterapp; const nb = app.shell.currentWidget; {body} }}",
                         arg)


def open_notebook(page: Page, base: str, name: str, token: str) -> None:
    page.goto(f"{base}/lab/tree/{name}?reset&token={token}", wait_until="domcontentloaded")
    page.wait_for_function(
        """name => { const app = window.jupyterapp; const nb = app && app.shell.currentWidget;
                     const kernel = nb && nb.sessionContext && nb.sessionContext.session
                                    && nb.sessionContext.session.kernel;
                     return nb && nb.context.path.endsWith(name) && kernel && kernel.status === 'idle'; }""",
        arg=name, timeout=120_000, polling=250)


def run_all(page: Page, timeout_s: float) -> None:
    """Clear every output, then Run → Run All Cells from the menu, and wait until the kernel is idle again."""
    js(page, "await app.commands.execute('notebook:clear-all-cell-outputs');")
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    done = """() => { const nb = window.jupyterapp.shell.currentWidget;
                      const cells = nb.content.widgets.filter(c => c.model.type === 'code');
                      const busy = [...nb.node.querySelectorAll('.jp-InputPrompt')]
                          .some(p => p.textContent.includes('*'));
                      return nb.sessionContext.session.kernel.status === 'idle' && !busy
                             && cells.length > 0 && cells[0].model.executionCount !== null; }"""
    for _ in range(2):  # between two cells the kernel is idle for a moment: ask again a second later
        page.wait_for_function(done, timeout=timeout_s * 1000, polling=500)
        page.wait_for_timeout(1000)
    page.wait_for_function(done, timeout=timeout_s * 1000, polling=500)


def cell_errors(page: Page) -> list[str]:
    """Error outputs outside cells tagged raises-exception, code cells Run All never ran, and exercise checks
    (cells tagged check) that do not say "not yet": a learner copy starts with no answers."""
    return js(page, """
        const problems = [], notRun = [];
        nb.content.widgets.forEach((cell, i) => {
            if (cell.model.type !== 'code') return;
            const tags = cell.model.getMetadata('tags') || [];
            const outputs = cell.model.outputs;
            let text = '';
            for (let k = 0; k < outputs.length; k++) {
                const out = outputs.get(k).toJSON();
                if (out.output_type === 'error' && !tags.includes('raises-exception'))
                    problems.push(`cell ${i}: ${out.ename}: ${String(out.evalue).slice(0, 160)}`);
                text += [].concat(out.text || '').join('');
            }
            if (tags.includes('check') && !text.toLowerCase().includes('not yet'))
                problems.push(`cell ${i}: an exercise check that does not say "not yet": ${text.slice(0, 120)}`);
            if (cell.model.executionCount === null) notRun.push(i);
        });
        if (notRun.length) problems.push(`${notRun.length} code cell(s) not run, from cell ${notRun[0]}`);
        return problems;""")


def run_in_kernel(page: Page, code: str) -> None:
    status = js(page, """const reply = await nb.sessionContext.session.kernel
                             .requestExecute({code: arg, store_history: false}).done;
                         return reply.content.status;""", code)
    if status != "ok":
        raise RuntimeError(f"kernel code failed ({status}): {code}")


def wait_for_idle(page: Page) -> None:
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
                           timeout=WIDGET_TIMEOUT_S * 1000, polling=250)


def shut_down(page: Page) -> None:
    js(page, "await app.serviceManager.sessions.shutdownAll();")


# --------------------------------------------------------------------------- the widgets

def widget_output(page: Page, marker: str) -> Locator:
    """The output area of the widget that contains `marker` (a CSS selector), scrolled into view."""
    area = page.locator(".jp-OutputArea-output").filter(has=page.locator(marker)).first
    area.wait_for(state="visible", timeout=WIDGET_TIMEOUT_S * 1000)
    area.scroll_into_view_if_needed()
    return area


def changed(read, before, timeout_s: float = WIDGET_TIMEOUT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if read() != before:
            return True
        time.sleep(0.25)
    return False


def check_decision_flow(page: Page, area: Locator, work: Path) -> str:
    """Notebook 01: "Start over" empties the walk-through's path, and clicking an answer puts it on the path."""
    path = lambda: area.locator(".widget-html").last.text_content()
    button = area.locator(".widget-toggle-buttons button").first
    before = path()
    area.locator("button", has_text="Start over").click()
    if not changed(path, before) or not changed(button.is_visible, False):
        return "decision flow answers a click: FAILED (Start over did not bring back the first question)"
    answer, empty = button.text_content(), path()
    button.click()
    if not changed(path, empty) or f"= {answer}" not in path():
        return f"decision flow answers a click: FAILED (clicking {answer!r} did not put it on the path)"
    return f"decision flow answers a click (Start over, then {answer!r} joined the path): ok"


def check_review_ui(page: Page, area: Locator, work: Path) -> str:
    """Notebook 03: clicking Accept in the review widget appends that decision to the decisions file."""
    decisions = work / "03_data_preparation" / "review_decisions.jsonl"
    read = lambda: decisions.read_text() if decisions.exists() else ""
    before = read()
    area.locator("button", has_text="Accept").first.click()
    if not changed(read, before):
        return f"review UI writes its decision: FAILED ({decisions.name} unchanged after Accept)"
    last = json.loads(read().splitlines()[-1])
    if last.get("action") != "accept":
        return f"review UI writes its decision: FAILED (last decision is {last!r}, not an accept)"
    return f"review UI writes its decision (accept of {last.get('id')} in {decisions.name}): ok"


def check_cost_calculator(page: Page, area: Locator, work: Path) -> str:
    """Notebook 06: dragging the requests/day slider moves its readout, and the calculator answers for the new value."""
    readout = area.locator(".widget-slider .widget-readout").first
    answer = area.locator(".widget-html-content pre").last
    value, before = readout.text_content(), answer.text_content()
    handle = area.locator(".widget-slider .noUi-handle").first
    handle.scroll_into_view_if_needed()  # the mouse acts at viewport coordinates
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y, steps=5)
    page.mouse.up()
    if not changed(readout.text_content, value):
        return f"cost calculator moves with its slider: FAILED (dragging requests/day left it at {value})"
    moved = readout.text_content()
    if not changed(answer.text_content, before) or not answer.text_content().startswith(f"{moved} requests a day"):
        return (f"cost calculator moves with its slider: FAILED (requests/day {value} -> {moved}, but the answer "
                f"still begins {answer.text_content().splitlines()[0]!r})")
    return f"cost calculator moves with its slider (requests/day {value} -> {moved}, answer followed): ok"


def check_platform_cards(page: Page, area: Locator, work: Path) -> str:
    """Notebook 04: choosing a kind for the first card and clicking Check gives that card a verdict on it."""
    verdicts = area.locator(".widget-html-content").last
    picker = area.locator(".widget-dropdown select").first
    kind = picker.locator("option").nth(1).text_content()  # option 0 is "(choose)"
    picker.select_option(label=kind)
    before = verdicts.text_content()
    area.locator("button", has_text="Check").click()
    if not changed(verdicts.text_content, before):
        return f"platform cards answer Check: FAILED (choosing {kind!r} and clicking Check printed no verdicts)"
    first = verdicts.locator("li").first.text_content()
    if not (first.startswith("Right: p01 -> " + kind) or first.startswith(f"Not yet: p01: {kind} ")):
        return f"platform cards answer Check: FAILED (the first verdict is not on {kind!r}: {first[:100]!r})"
    return f"platform cards answer Check (p01 set to {kind!r}: {first.split('.')[0]}): ok"


# Per notebook (by its number): a CSS selector found only in its widget, the widget check, and for --break-callbacks the kernel code that breaks the
# function that widget's callback calls (looked up at call time, so patching it after Run All reaches it).
WIDGETS = {
    "01": (".widget-toggle-buttons", check_decision_flow, "import helpers.decision as m\n"
                                "def walk(*a, **k): raise RuntimeError('broken on purpose')\nm.walk = walk"),
    "03": (".widget-button", check_review_ui, "import helpers.dataprep as m\nm.record_decision = lambda *a, **k: None"),
    "04": (".widget-dropdown", check_platform_cards, "import helpers.decision as m\n"
                                    "def check_platform_cards(*a, **k): raise RuntimeError('broken on purpose')\n"
                                    "m.check_platform_cards = check_platform_cards"),
    "06": (".widget-slider", check_cost_calculator, "import helpers.costs as m\n"
                                  "def calculator(*a, **k): raise RuntimeError('broken on purpose')\n"
                                  "m.calculator = calculator"),
}


# --------------------------------------------------------------------------- the run

def drive_widget(page: Page, number: str, work: Path, broken: bool) -> str:
    """Run notebook `number`'s widget check (its callback broken first if `broken`) and say how it went."""
    marker, check, breaker = WIDGETS[number]
    if broken:
        run_in_kernel(page, breaker)
    area = widget_output(page, marker)
    verdict = check(page, area, work)
    wait_for_idle(page)  # the screenshot shows the widget after it was driven, its last update drawn
    area.scroll_into_view_if_needed()
    if not broken:
        return verdict
    if "FAILED" in verdict:
        return f"broken callback caught, {verdict.replace('FAILED', 'failed as it should')}"
    return f"broken callback NOT caught, the check still passed: FAILED ({verdict})"


def test_notebook(context, base: str, token: str, name: str, work: Path, shots: Path, broken: bool) -> Result:
    result, start = Result(name), time.monotonic()
    page = context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    try:
        open_notebook(page, base, name, token)
        run_all(page, NOTEBOOK_TIMEOUT_S)
        result.errors = cell_errors(page)
        if name[:2] in WIDGETS:
            result.widgets.append(drive_widget(page, name[:2], work, broken))
        else:
            page.locator(".jp-Cell").last.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / f"{Path(name).stem}.png"))
        shut_down(page)
    except Exception as exc:  # a timeout or a missing element is this notebook's failure, not the run's
        result.errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        page.screenshot(path=str(shots / f"{Path(name).stem}-failed.png"))
    finally:
        page.close()
    result.errors += [f"page error: {e[:160]}" for e in page_errors]
    result.seconds = time.monotonic() - start
    return result


def run(notebooks: Path, jupyter: str, shots: Path, broken: bool) -> list[Result]:
    names = sorted(p.name for p in notebooks.glob("*.ipynb"))
    if not names:
        sys.exit(f"no notebooks in {notebooks}")
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):  # every screenshot left is from this run
        old.unlink()
    scratch = Path(tempfile.mkdtemp(prefix="browser-test-"))
    root_dir = scratch / "my-notebooks"
    # the lab's own Python makes the copies (this script's venv holds Playwright, not the lab)
    subprocess.run([str(Path(jupyter).parent / "python"), "-m", "helpers", "learner-copies", "--into", str(root_dir),
                    "--from", str(notebooks)], check=True, stdout=subprocess.DEVNULL)
    port, token = free_port(), secrets.token_hex(16)
    server, results = start_server(jupyter, root_dir, scratch, port, token), []
    try:
        wait_for_server(server, port, token, scratch / "jupyter.log")
        with sync_playwright() as p:
            # A persistent context is how Playwright takes a fresh --user-data-dir of our choosing.
            context = p.chromium.launch_persistent_context(
                scratch / "chromium", executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 1000})
            try:
                for name in names:
                    result = test_notebook(context, f"http://127.0.0.1:{port}", token, name, scratch / "work",
                                           shots, broken)
                    print(result.line(), flush=True)
                    results.append(result)
            finally:
                context.close()
    finally:
        stop_server(server)
        shutil.rmtree(scratch, ignore_errors=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="?", type=Path, default=ROOT / "notebooks")
    parser.add_argument("--jupyter", default=str(ROOT / ".venv" / "bin" / "jupyter"), help="the lab's jupyter")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "browser", help="where screenshots go")
    parser.add_argument("--break-callbacks", action="store_true",
                        help="break each widget's callback after Run All; passes only if every widget check fails")
    args = parser.parse_args()
    # A CI timeout or Ctrl-C must still reach the finally blocks that stop the server and the browser.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    start = time.monotonic()
    results = run(args.notebooks.resolve(), args.jupyter, args.out, args.break_callbacks)
    failed = [r.name for r in results if not r.ok]
    print(f"{len(results) - len(failed)} of {len(results)} notebooks passed in {time.monotonic() - start:.0f} s; "
          f"screenshots in {args.out}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
