"""Sign-in through a real OpenID Provider (oidc-provider on 127.0.0.1, cps1/localcluster/idp.py):
headless Chromium signs in on the provider's own login page and lands in the console; groups
make admins and open or close templates; a disabled user stays out; sign-out ends the session
here and at the provider, and another site cannot sign a person out; the CLI signs in with the
device authorization grant, its verification page driven by Chromium, and, where the provider
refuses its client that grant, through Chromium on this machine and a loopback redirect. The
API runs under gunicorn on the local control plane.
"""

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

import kubeclient as kube
from api import identity
from apiclient.client import ApiClient
from apiclient.errors import ApiError
from cps1 import dev
from cps1.localcluster import idp, install
from tests.support import workspaces as ws
from tests.support.cluster import ARTIFACTS, Env, wait_until

SYSTEM_NS = "cps1-oidc-test"
ADMIN_TOKEN = "cps1_0d0d0d0d0d0d_" + "o" * 40
PROVIDER_NAME = idp.PROVIDER_NAME
RESTRICTED = "oidc-admins-only"
SHOTS = ARTIFACTS / "oidc"
WAIT_MS = 60_000

expect.set_options(timeout=WAIT_MS)


@dataclass(frozen=True)
class Setup:
    api_url: str
    console_url: str
    # An API whose CLI client the provider does not allow the device grant.
    browser_cli_api_url: str

    def admin(self) -> ApiClient:
        return ApiClient(self.api_url, token=ADMIN_TOKEN, timeout=30)


@pytest.fixture(scope="module")
def setup(env: Env, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """The provider, the API pointed at it and the console, each on its own loopback port."""
    run_dir = tmp_path_factory.mktemp("oidc")
    kube.apply(env.client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM_NS}})
    ws.template(env, RESTRICTED, access={"groups": ["platform-admins"]})
    api, api_url = install.gunicorn_process(run_dir, app="api.wsgi:app")
    browser_cli_api, browser_cli_api_url = install.gunicorn_process(run_dir, app="api.wsgi:app")
    console, console_url = dev.console_process(run_dir, api_url)
    provider, oidc_env = idp.local_provider(run_dir, api_url, console_url)
    for proc in (api, browser_cli_api):
        proc.env.update(
            {
                "CPS1_API_KUBECONFIG": str(env.cluster.kubeconfig),
                "CPS1_API_SYSTEM_NAMESPACE": SYSTEM_NS,
                "CPS1_API_BOOTSTRAP_ADMIN": "root",
                "CPS1_API_BOOTSTRAP_TOKEN": ADMIN_TOKEN,
                **oidc_env,
            }
        )
    browser_cli_api.env["CPS1_API_OIDC_CLI_CLIENT_ID"] = idp.BROWSER_CLI_CLIENT_ID
    started = []
    try:
        for proc in (provider, api, browser_cli_api, console):
            proc.start()
            started.append(proc)
        for proc in started:
            proc.wait_ready(90)
        yield Setup(api_url, console_url, browser_cli_api_url)
    finally:
        for proc in reversed(started):
            proc.stop()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def provider_login(page: Page, login: str) -> None:
    """The provider's own login page (oidc-provider's development interactions)."""
    expect(page.locator("input[name=login]")).to_be_visible()
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any password")
    page.locator("button[type=submit]").click()


def native_client_consent(page: Page) -> None:
    """oidc-provider asks the person to confirm every sign-in of a native client (the CLI's:
    anyone can claim to be it), as RFC 8252 section 8.6 advises."""
    expect(page.get_by_role("heading", name="Authorize")).to_be_visible()
    page.get_by_role("button", name="Continue").click()


def browser_sign_in(browser: Browser, setup: Setup, login: str) -> Page:
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(setup.console_url)
    page.get_by_text(f"Sign in with {PROVIDER_NAME}").click()
    provider_login(page, login)
    return page


def session_token(page: Page) -> dict:
    [cookie] = [c for c in page.context.cookies() if c["name"] == "cps1_session"]
    return dict(cookie)


def test_the_console_offers_the_provider_and_a_person_signs_in_to_their_workspaces(
    chromium: Browser, setup: Setup
) -> None:
    page = browser_sign_in(chromium, setup, "alice")
    expect(page.get_by_role("heading", name="My workspaces", exact=True)).to_be_visible()
    expect(page.get_by_text("Signed in as alice · admin")).to_be_visible()  # platform-admins
    shot(page, "alice-workspaces")
    cookie = session_token(page)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert cookie["value"] not in page.content()  # the token never reaches the page
    assert "cps1_session" not in page.evaluate("document.cookie")  # nor its scripts
    me = ApiClient(setup.api_url, token=cookie["value"]).me()
    assert me["admin"] and "platform-admins" in me["groups"]


def test_a_group_not_allowed_a_template_is_refused_it_in_words(chromium: Browser, setup: Setup) -> None:
    page = browser_sign_in(chromium, setup, "bob")
    expect(page.get_by_text("Signed in as bob", exact=True)).to_be_visible()  # not an admin
    bob = ApiClient(setup.api_url, token=session_token(page)["value"])
    assert bob.me()["groups"] == ["developers"]
    with pytest.raises(ApiError) as refused:
        bob.create_workspace({"name": "bob-oidc", "template": RESTRICTED})
    assert refused.value.status == 403
    assert f"template {RESTRICTED!r} is not available to bob; ask an admin" in str(refused.value)


def test_sign_out_revokes_the_session_here_and_at_the_provider(chromium: Browser, setup: Setup) -> None:
    page = browser_sign_in(chromium, setup, "bob")
    expect(page.get_by_role("heading", name="My workspaces", exact=True)).to_be_visible()
    token = session_token(page)["value"]
    page.get_by_text("Sign out", exact=True).click()
    page.get_by_role("button", name=re.compile("Yes, sign me out", re.I)).click()  # the provider asks
    expect(page.get_by_text(f"Sign in with {PROVIDER_NAME}")).to_be_visible()
    assert not [c for c in page.context.cookies() if c["name"] == "cps1_session"]
    # Revoked at once in the worker that signed out, within the token cache's seconds in the other.
    wait_until(
        lambda: _status(setup, token) == 401, timeout=identity.TOKEN_CACHE_SECONDS + 10, what="a revoked session"
    )
    page.get_by_text(f"Sign in with {PROVIDER_NAME}").click()  # the provider's session ended too
    expect(page.locator("input[name=login]")).to_be_visible()


def test_another_site_cannot_sign_a_person_out(chromium: Browser, setup: Setup) -> None:
    """A page on another site (here the console named `localhost`, a different site from
    127.0.0.1) that sends the browser to the sign-out link only gets a page asking to confirm."""
    page = browser_sign_in(chromium, setup, "bob")
    expect(page.get_by_role("heading", name="My workspaces", exact=True)).to_be_visible()
    token = session_token(page)["value"]
    page.goto(setup.console_url.replace("127.0.0.1", "localhost"))
    page.evaluate("url => { window.location.href = url }", f"{setup.api_url}/api/v1/oidc/logout")
    expect(page.get_by_text("Sign out of CPS1?")).to_be_visible()
    assert _status(setup, token) == 200
    page.get_by_role("button", name="Sign out").click()  # the person confirms: now it signs out
    wait_until(
        lambda: _status(setup, token) == 401, timeout=identity.TOKEN_CACHE_SECONDS + 10, what="a revoked session"
    )


def _status(setup: Setup, token: str) -> int:
    return requests.get(
        f"{setup.api_url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).status_code


def test_a_disabled_user_cannot_sign_in_again(chromium: Browser, setup: Setup) -> None:
    page = browser_sign_in(chromium, setup, "carol")
    expect(page.get_by_text("Signed in as carol", exact=True)).to_be_visible()
    setup.admin().call("PATCH", "/users/carol", body={"disabled": True})
    again = browser_sign_in(chromium, setup, "carol")
    expect(again.get_by_text("is disabled; ask an admin")).to_be_visible()
    shot(again, "carol-disabled")


def cli_sign_in(api_url: str, config: Path, confirm: Callable[[list[str]], None]) -> str:
    """`cps1 login --oidc` against `api_url`: `confirm` gets the lines the CLI printed up to its
    first address and completes the sign-in in Chromium; the CLI's whole output."""
    cli = subprocess.Popen(
        [sys.executable, "-m", "cps1.cli", "login", "--oidc", "--url", api_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "CPS1_CONFIG": str(config)},
    )
    try:
        assert cli.stdout is not None
        lines: list[str] = []
        for line in cli.stdout:
            lines.append(line)
            if "To sign in, open http" in line:
                break
        assert lines and "To sign in, open http" in lines[-1], f"the CLI printed no address: {lines}"
        confirm(lines)
        out, _ = cli.communicate(timeout=60)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
        if cli.stdout:
            cli.stdout.close()
    assert cli.returncode == 0, "".join(lines) + out
    return "".join(lines) + out


def saved_user(api_url: str, config: Path) -> str:
    return str(ApiClient(api_url, token=json.loads(config.read_text())["token"]).me()["name"])


def test_the_cli_signs_in_with_the_device_grant(chromium: Browser, setup: Setup, tmp_path: Path) -> None:
    def confirm(lines: list[str]) -> None:
        found = re.search(r"(http://\S+/device\?user_code=\S+)", lines[-1])
        assert found, lines
        page = chromium.new_context().new_page()
        page.goto(found.group(1))
        page.get_by_role("button", name="Continue").click()  # the provider shows the code to confirm
        provider_login(page, "bob")
        native_client_consent(page)
        expect(page.get_by_text(re.compile("Sign-in Success|success", re.I)).first).to_be_visible()

    out = cli_sign_in(setup.api_url, tmp_path / "config.json", confirm)
    assert "logged in as bob" in out
    assert saved_user(setup.api_url, tmp_path / "config.json") == "bob"


def test_without_the_device_grant_the_cli_signs_in_through_a_loopback_redirect(
    chromium: Browser, setup: Setup, tmp_path: Path
) -> None:
    """The provider refuses the CLI's client the device grant (unauthorized_client): the CLI
    listens on 127.0.0.1 and the browser brings the code back there (RFC 8252, PKCE)."""
    landed: list[str] = []

    def confirm(lines: list[str]) -> None:
        assert f"does not allow the device grant to {idp.BROWSER_CLI_CLIENT_ID}" in "".join(lines)
        url = lines[-1].split("To sign in, open ", 1)[1].strip()
        assert "code_challenge_method=S256" in url and "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in url
        page = chromium.new_context().new_page()
        page.goto(url)
        provider_login(page, "bob")
        native_client_consent(page)
        expect(page.get_by_text("Signed in to CPS1. You can close this tab.")).to_be_visible()
        landed.append(page.url)

    config = tmp_path / "config.json"
    out = cli_sign_in(setup.browser_cli_api_url, config, confirm)
    assert "logged in as bob" in out
    assert landed[0].startswith("http://127.0.0.1:") and "code=" in landed[0]
    assert saved_user(setup.api_url, config) == "bob"
