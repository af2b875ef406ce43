"""What the portal browser tests share: Debian's Chromium launched as this project requires,
where screenshots go, a free loopback port and the test accounts' password."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "correct horse battery"
#: Headless Debian Chromium, no sandbox (containers), and no traffic of its own.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def launch_chromium(playwright: Any) -> Any:
    """Debian's ``chromium`` through Playwright (its own browser download fails here)."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
    )


def csp_watch(page: Any, found: list[str]) -> Any:
    """Collect into ``found`` every Content-Security-Policy violation ``page`` meets (Chromium
    reports each on the console: "Refused to execute inline script because it violates the
    following Content Security Policy directive..."); returns the page."""

    def seen(message: Any) -> None:
        if "Content Security Policy" in message.text:
            found.append(f"{page.url}: {message.text}")

    page.on("console", seen)
    return page


def log_in(
    browser: Any, base: str, email: str, password: str = PASSWORD, csp: list[str] | None = None
) -> Any:
    """A new browser context's page, logged in to the portal at ``base`` as ``email``; CSP
    violations it meets go into ``csp`` when given."""
    page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    if csp is not None:
        csp_watch(page, csp)
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    return page
