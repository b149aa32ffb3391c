"""Headless Chromium driven over the DevTools protocol through a pipe, for the report tests.

The browser is the one `make` unpacks from the npm package @sparticuz/chromium into .cache/chromium
(no apt, no root); a `chromium` on PATH serves where that build does not run. The pipe, rather than
`--dump-dom`/`--screenshot`, because that build never exits after those flags on this machine, and
because the protocol reports every console message, uncaught exception and failed load as data."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
UNPACKED = ROOT / ".cache" / "chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    # Any request that leaves the file fails (and is reported): the page must not need the network.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--remote-debugging-pipe",
)
TIMEOUT = 60.0


class BrowserError(RuntimeError):
    """Chromium is missing, did not answer in time, or refused a command."""


@dataclass
class Page:
    """What a loaded page showed: its DOM, the console's messages and, when asked, a PNG."""

    html: str
    console: list[str] = field(default_factory=list)
    screenshot: bytes = b""


def chromium() -> tuple[Path, dict[str, str]]:
    """The Chromium binary and the environment it needs."""
    unpacked = UNPACKED / "chromium"
    if unpacked.is_file():
        # The package's own fonts.conf names Lambda's folders: without ours no text is drawn.
        return unpacked, {**os.environ, "FONTCONFIG_FILE": str(UNPACKED / "fonts.conf")}
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return Path(found), dict(os.environ)
    raise BrowserError(
        f"no Chromium: {unpacked} is missing and none is on PATH; `make pytest` unpacks one from "
        "the npm package @sparticuz/chromium (Linux x86-64)"
    )


class _Pipe:
    """One DevTools session: commands with ids, events kept in arrival order."""

    def __init__(self, pid: int, send_fd: int, receive_fd: int) -> None:
        self.pid, self.send_fd, self.receive_fd = pid, send_fd, receive_fd
        self.events: list[dict[str, Any]] = []
        self.buffer = b""
        self.last_id = 0
        self.deadline = time.monotonic() + TIMEOUT

    def _receive(self) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.receive_fd], [], [], left)[0]:
                raise BrowserError(f"Chromium did not answer within {TIMEOUT:.0f} s")
            chunk = os.read(self.receive_fd, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium (process {self.pid}) closed the pipe")
            self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(b"\0")
        decoded: dict[str, Any] = json.loads(message)
        return decoded

    def command(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self.last_id += 1
        message: dict[str, Any] = {"id": self.last_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self.send_fd, json.dumps(message).encode() + b"\0")
        while (reply := self._receive()).get("id") != self.last_id:
            self.events.append(reply)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message')}")
        result: dict[str, Any] = reply["result"]
        return result

    def wait_for(self, method: str) -> None:
        while not any(event.get("method") == method for event in self.events):
            self.events.append(self._receive())


def _console_text(event: dict[str, Any]) -> str | None:
    params = event.get("params", {})
    if event.get("method") == "Runtime.consoleAPICalled":
        values = (arg.get("value", arg.get("description", "")) for arg in params.get("args", []))
        return f"console.{params.get('type')}: " + " ".join(map(str, values))
    if event.get("method") == "Runtime.exceptionThrown":
        details = params.get("exceptionDetails", {})
        return "uncaught: " + str(details.get("exception", {}).get("description", details.get("text")))
    if event.get("method") == "Log.entryAdded":
        entry = params.get("entry", {})
        return f"{entry.get('source')} {entry.get('level')}: {entry.get('text')}"
    return None


def load(url: str, profile: Path, *, screenshot: tuple[int, int] | None = None) -> Page:
    """Open `url` in a fresh headless Chromium (profile folder `profile`), wait for its load event,
    and return the DOM, every console message and, with `screenshot=(width, height)`, a PNG."""
    binary, environment = chromium()
    to_browser, from_browser = os.pipe(), os.pipe()

    # --remote-debugging-pipe reads commands on fd 3 and writes replies on fd 4. posix_spawn puts the
    # pipe's ends there (preexec_fn would be unsafe beside the local cloud's threads); they are first
    # moved above 9 so that neither move can overwrite the other end.
    reads, writes = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_browser[0], from_browser[1]))
    devnull = (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)
    quiet = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_WRONLY, 0) for fd in (1, 2)]
    moves = [(os.POSIX_SPAWN_DUP2, reads, 3), (os.POSIX_SPAWN_DUP2, writes, 4)]
    pid = os.posix_spawn(
        binary,
        [str(binary), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        environment,
        file_actions=[devnull, *quiet, *moves],
    )
    for fd in (reads, writes, to_browser[0], from_browser[1]):
        os.close(fd)
    pipe = _Pipe(pid, to_browser[1], from_browser[0])
    try:
        target = pipe.command("Target.createTarget", url="about:blank")["targetId"]
        session = pipe.command("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            pipe.command(f"{domain}.enable", session)
        if screenshot:
            width, height = screenshot
            pipe.command(
                "Emulation.setDeviceMetricsOverride",
                session,
                width=width,
                height=height,
                deviceScaleFactor=1,
                mobile=False,
            )
        navigation = pipe.command("Page.navigate", session, url=url)
        if "errorText" in navigation:
            raise BrowserError(f"{url}: {navigation['errorText']}")
        pipe.wait_for("Page.loadEventFired")
        html = pipe.command(
            "Runtime.evaluate", session, expression="document.documentElement.outerHTML", returnByValue=True
        )["result"]["value"]
        png = b""
        if screenshot:
            png = base64.b64decode(pipe.command("Page.captureScreenshot", session, format="png")["data"])
        console = [text for text in map(_console_text, pipe.events) if text is not None]
        return Page(html=html, console=console, screenshot=png)
    finally:
        os.close(to_browser[1])
        os.close(from_browser[0])
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
