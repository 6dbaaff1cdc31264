"""The console as a person uses it: the real console (`python -m console`, Streamlit on
127.0.0.1) in Debian's headless Chromium driven by Playwright, against the real API on the local
control plane. A screenshot of every page goes to test-artifacts/console/.

Chromium comes from Debian (`apt-get install chromium`), never from `playwright install`; the
flags below keep it from dialling anything but the console on loopback.
"""

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from cps1 import dev
from cps1.localcluster.processes import Process
from tests.e2e import console_support as support
from tests.support import workspaces as ws
from tests.support.cluster import ARTIFACTS, Env

SHOTS = ARTIFACTS / "console"
WAIT_MS = 60_000
RUNNING_MS = 120_000


# This 2-core machine is shared: give a rerun more than expect()'s default 5 seconds.
expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="module")
def api_url(env: Env, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with support.running_api(env, tmp_path_factory.mktemp("console-browser-api")) as url:
        yield url


def _console(run_dir: Path, api_url: str, env: dict[str, str]) -> Iterator[str]:
    proc: Process
    proc, url = dev.console_process(run_dir, api_url, {"CPS1_CONSOLE_REFRESH_SECONDS": "1", **env})
    proc.start()
    try:
        proc.wait_ready(60)
        yield url
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def console_url(api_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _console(tmp_path_factory.mktemp("console"), api_url, {})


@pytest.fixture(scope="module")
def proxied_console_url(api_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _console(
        tmp_path_factory.mktemp("console-proxied"),
        api_url,
        {"CPS1_CONSOLE_PROXY_USER_HEADER": support.PROXY_HEADER},
    )


def settle(page: Page) -> None:
    """Wait until the script run is over: mid-run, Streamlit still shows some of the previous
    run's elements next to the new ones."""
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
    expect(page.locator("[data-stale='true']")).to_have_count(0)


def shot(page: Page, name: str) -> None:
    """A screenshot for the artifacts, not a proof: the live fragments rerun every second, so
    on a loaded machine an idle moment may not come; take the picture anyway after a while."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(AssertionError):
        expect(page.locator("[data-stale='true']")).to_have_count(0, timeout=5000)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def open_page(browser: Browser, url: str, headers: dict[str, str] | None = None) -> Page:
    context = browser.new_context(viewport={"width": 1400, "height": 1600}, extra_http_headers=headers or {})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(url)
    return page


def go(page: Page, link: str, heading: str) -> None:
    page.get_by_role("link", name=link, exact=True).click()
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()


def test_sign_in_create_watch_it_run_stop_and_delete(
    env: Env, chromium: Browser, console_url: str, api_url: str
) -> None:
    name = "web-ws"
    token = support.user_token(api_url, "erin")
    page = open_page(chromium, console_url)
    try:
        expect(page.get_by_label("API token", exact=True)).to_be_visible()
        shot(page, "01-sign-in")
        support.sign_in(page, token)
        expect(page.get_by_text("Signed in as erin")).to_be_visible()
        expect(page.get_by_text("You have no workspaces yet.")).to_be_visible()
        shot(page, "02-my-workspaces-empty")

        go(page, "New workspace", "New workspace")
        page.get_by_label("Template", exact=True).click()
        page.get_by_role("option", name=f"Python 3.13 ({support.TEMPLATE})").click()
        settle(page)
        expect(page.get_by_text("Python 3.13 with pip")).to_be_visible()
        page.get_by_label("Name", exact=True).fill(name)
        shot(page, "03-create-form")
        page.get_by_role("button", name="Create workspace").click()
        # The "Created" toast lasts 4 s; what stays is the page following the new workspace.
        expect(page.get_by_text(f"{name} is running.")).to_be_visible(timeout=RUNNING_MS)
        shot(page, "04-create-running")

        page.get_by_role("link", name="See it in My workspaces").click()
        expect(page.get_by_role("heading", name=name)).to_be_visible()
        expect(page.get_by_text(f"Host cps1-{name}")).to_be_visible()
        expect(page.get_by_role("link", name="Open IDE")).to_have_attribute("href", ws.status(env, name)["ideURL"])
        shot(page, "05-my-workspaces-running")

        admin_pages(chromium, console_url)

        page.get_by_role("button", name="Stop").click()
        badge = page.locator(".stMarkdownBadge")  # the phase badge of the details
        expect(badge).to_have_text("Stopped", timeout=RUNNING_MS)
        assert ws.status(env, name)["phase"] == "Stopped"
        shot(page, "06-stopped")

        go(page, "SSH keys", "SSH keys")
        shot(page, "07-ssh-keys")
        go(page, "My workspaces", "My workspaces")

        page.get_by_role("button", name="Delete").click()
        expect(page.get_by_text(f"Delete workspace {name}?")).to_be_visible()
        shot(page, "08-delete-confirmation")
        page.get_by_role("button", name=f"Yes, delete {name}").click()
        # The platform's part (finalizer, namespace) and then the console's, each with its own
        # wait, so a failure says which of the two did not happen.
        ws.wait_gone(env, name, timeout=RUNNING_MS / 1000)
        expect(page.get_by_text("You have no workspaces yet.")).to_be_visible()
        shot(page, "09-deleted")
    finally:
        page.context.close()
        ws.delete(env, name)


def admin_pages(chromium: Browser, console_url: str) -> None:
    """While erin's workspace runs: what an admin sees of it, and the template editor."""
    page = open_page(chromium, console_url)
    try:
        support.sign_in(page, support.ADMIN_TOKEN)
        go(page, "All workspaces", "All workspaces")
        # Other tests' workspaces may sort first: show erin's only.
        page.get_by_label("Owner", exact=True).click()
        page.get_by_role("option", name="erin", exact=True).click()
        settle(page)
        expect(page.get_by_role("heading", name="web-ws", exact=True)).to_be_visible()
        expect(page.get_by_text("· owner erin")).to_be_visible()
        shot(page, "10-admin-all-workspaces")
        go(page, "Templates", "Templates")
        page.get_by_label("Edit", exact=True).click()
        page.get_by_role("option", name=support.TEMPLATE, exact=True).click()
        # settle() can pass before the rerun that swaps the "+ New template" form for this one has
        # begun (and mid-rerun both forms' inputs exist): wait for exactly the edited form.
        page.wait_for_function(
            """(image) => {
                const inputs = [...document.querySelectorAll('input[aria-label="Image"]')];
                return inputs.length === 1 && inputs[0].value === image;
            }""",
            arg="cps1/workspace-python:0.1.0",
        )
        shot(page, "11-admin-template-form")
        page.get_by_text("YAML", exact=True).click()
        settle(page)
        expect(page.get_by_label("Manifest", exact=True)).to_be_visible()
        page.get_by_role("button", name="Validate").click()
        expect(page.get_by_text(f"Template {support.TEMPLATE} is valid.")).to_be_visible()
        shot(page, "12-admin-template-yaml")
    finally:
        page.context.close()


def test_the_proxy_identity_signs_in_without_a_token(chromium: Browser, proxied_console_url: str) -> None:
    page = open_page(
        chromium,
        proxied_console_url,
        {support.PROXY_HEADER: "proxied-pat", "X-CPS1-Proxy-Secret": support.PROXY_SECRET},
    )
    try:
        expect(page.get_by_text("Signed in as proxied-pat")).to_be_visible()
        expect(page.get_by_text("by your organisation's sign-in")).to_be_visible()
        expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
        expect(page.get_by_label("API token", exact=True)).to_have_count(0)
        shot(page, "13-proxy-signed-in")
    finally:
        page.context.close()
    anonymous = open_page(chromium, proxied_console_url)
    try:
        expect(anonymous.get_by_text(f"{support.PROXY_HEADER} header, and this request had none")).to_be_visible()
        expect(anonymous.get_by_label("API token", exact=True)).to_be_visible()
    finally:
        anonymous.context.close()
