"""The web console, every page and action, through Streamlit's AppTest against the real API
(gunicorn) on the local control plane with Metacontroller and the hooks. No API answer is faked:
what the pages show comes from the cluster."""

from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest

from api import identity
from apiclient.client import ApiClient
from cps1.localcluster.processes import free_port
from tests.e2e import console_support as support
from tests.support import workspaces as ws
from tests.support.cluster import Env, found, wait_until

GOOD_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFHvpng/GqwCDXQcQbNsiO7G+wS9DQT3CnGsFkBIO5sE dana@laptop"


@pytest.fixture(scope="module")
def api_url(env: Env, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with support.running_api(env, tmp_path_factory.mktemp("console-api")) as url:
        yield url


@pytest.fixture(scope="module")
def dana(api_url: str) -> str:
    return support.user_token(api_url, "dana")


@pytest.fixture(autouse=True)
def console_env(api_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPS1_CONSOLE_API_URL", api_url)
    monkeypatch.delenv("CPS1_CONSOLE_PROXY_USER_HEADER", raising=False)


def start() -> AppTest:
    at = AppTest.from_file(str(support.APP), default_timeout=30).run()
    assert not at.exception
    return at


def signed_in(token: str) -> AppTest:
    at = start()
    at.text_input(key="signin.token").input(token)
    return click(at, "Sign in")


def click(at: AppTest, label: str) -> AppTest:
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r}; buttons: {[b.label for b in at.button]}"
    matches[0].click().run()
    assert not at.exception, at.exception
    return at


def goto(at: AppTest, page: str) -> AppTest:
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def text(at: AppTest) -> str:
    """Everything a person reads on the page, tables included, as one string."""
    parts: list[str] = []
    for kind in ("title", "subheader", "markdown", "caption", "success", "info", "warning", "error", "code", "toast"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [e.value.to_string() for e in at.dataframe]
    return "\n".join(parts)


def rows(at: AppTest, index: int = 0) -> list[dict]:
    return at.dataframe[index].value.to_dict("records")


def until(at: AppTest, check, what: str, timeout: float = 90) -> None:
    """Rerun the page (as the live refresh does) until `check(at)` holds."""

    def again() -> bool:
        at.run()
        assert not at.exception, at.exception
        return bool(check(at))

    wait_until(again, timeout, interval=1, what=what)


# Sign in -------------------------------------------------------------------------------------


def test_sign_in_refuses_a_bad_token_and_keeps_none() -> None:
    at = start()
    assert [p.label for p in at.text_input] == ["API token"]
    at.text_input(key="signin.token").input("cps1_000000000000_" + "x" * 40)
    click(at, "Sign in")
    assert "Could not sign in: authentication required" in at.error[0].value
    assert "(HTTP 401)" in at.error[0].value
    assert at.text_input(key="signin.token").value == ""  # the typed token is wiped from the widget
    assert "cps1.token" not in at.session_state


def test_sign_in_shows_who_and_only_their_pages_then_signs_out(dana: str) -> None:
    at = signed_in(dana)
    # The token is held once, where the session keeps credentials, and in no widget.
    assert [k for k, v in at.session_state.to_dict().items() if dana in str(v)] == ["cps1.token"]
    assert "Signed in as **dana**" in at.sidebar.markdown[0].value
    assert at.title[0].value == "My workspaces"
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("app_pages/admin_templates.py")  # not offered to a non-admin
    click(at, "Sign out")
    assert "cps1.token" not in at.session_state
    assert at.title[0].value == "CPS1" and [p.label for p in at.text_input] == ["API token"]


def test_an_unreachable_api_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPS1_CONSOLE_API_URL", f"http://127.0.0.1:{free_port()}")
    at = start()
    at.text_input(key="signin.token").input(support.ADMIN_TOKEN)
    click(at, "Sign in")
    assert "cannot reach the CPS1 API at http://127.0.0.1:" in at.error[0].value
    assert "CPS1_CONSOLE_API_URL" in at.error[0].value


def test_a_revoked_token_signs_the_user_out(api_url: str) -> None:
    token = support.user_token(api_url, "fred")
    at = signed_in(token)
    assert at.title[0].value == "My workspaces"
    token_id = token.split("_")[1]
    # Revoked by its owner (say, from the CLI) while the console still holds it.
    assert ApiClient(api_url, token=token, timeout=30).call("DELETE", f"/me/tokens/{token_id}") is None  # a 204

    def signed_out() -> bool:
        at.run()
        return bool(at.title) and at.title[0].value == "CPS1"

    # The API's other worker may still hold the token in its lookup cache for a few seconds.
    wait_until(signed_out, identity.TOKEN_CACHE_SECONDS + 10, what="the console to sign the user out")
    assert "cps1.token" not in at.session_state
    assert "Signed out" in at.warning[0].value and "Sign in again" in at.warning[0].value


# Create ----------------------------------------------------------------------------------------


def test_the_create_form_comes_from_the_templates_parameters(dana: str) -> None:
    at = goto(signed_in(dana), "app_pages/create.py")
    at.selectbox(key="create.template").set_value(support.TEMPLATE).run()
    assert "Python 3.13 with pip" in text(at)  # the template's description
    assert "Image `cps1/workspace-python:0.1.0`" in text(at)
    assert [m.value for m in at.metric] == ["500m (up to 4)", "1Gi (up to 8Gi)", "10Gi"]
    cpu = at.text_input(key=f"create:{support.TEMPLATE}:cpu")
    assert (cpu.label, cpu.value) == ("CPU", "500m")
    assert "Between 250m and 4." in cpu.help and "CPU cores reserved" in cpu.help
    version = at.selectbox(key=f"create:{support.TEMPLATE}:pythonVersion")
    assert version.options == ["3.11", "3.12"] and version.value == "3.11"
    assert "Cannot be changed after the workspace is created." in version.help


def test_a_refused_create_shows_the_fields_and_keeps_the_values(env: Env, dana: str) -> None:
    at = goto(signed_in(dana), "app_pages/create.py")
    at.selectbox(key="create.template").set_value(support.TEMPLATE).run()
    at.text_input(key="create.name").input("con-refused")
    at.text_input(key=f"create:{support.TEMPLATE}:cpu").input("lots")
    at.text_input(key=f"create:{support.TEMPLATE}:memory").input("64Gi")
    click(at, "Create workspace")
    assert at.error[0].value.startswith("Could not create the workspace: invalid parameters (HTTP 422)")
    inline = [e.value for e in at.error[1:]]
    assert any("parameter 'cpu'" in e for e in inline) and any("must be at most 8Gi" in e for e in inline)
    assert at.text_input(key="create.name").value == "con-refused"
    assert at.text_input(key=f"create:{support.TEMPLATE}:cpu").value == "lots"
    assert ws.get(env, "con-refused") == {}
    at.text_input(key="create.name").input("Not_A_Name")
    at.text_input(key=f"create:{support.TEMPLATE}:cpu").input("1")
    at.text_input(key=f"create:{support.TEMPLATE}:memory").input("2Gi")
    click(at, "Create workspace")
    assert "Validation error (HTTP 422)" in at.error[0].value
    assert "lower-case letters" in at.error[1].value  # under the name field


def test_a_workspace_from_create_to_delete(env: Env, api_url: str, dana: str) -> None:
    name = "con-life"
    at = goto(signed_in(dana), "app_pages/create.py")
    at.selectbox(key="create.template").set_value(support.TEMPLATE).run()
    at.text_input(key="create.name").input(name)
    at.text_input(key=f"create:{support.TEMPLATE}:cpu").input("2")
    try:
        click(at, "Create workspace")
        assert f"Created workspace {name}." in [t.value for t in at.toast]
        assert at.text_input(key="create.name").value == ""  # ready for the next one
        until(at, lambda a: f"{name} is running." in text(a), "the create page to report Running")
        assert ws.get(env, name)["spec"]["parameters"] == {"cpu": "2", "memory": "2Gi", "pythonVersion": "3.11"}

        goto(at, "app_pages/workspaces.py")
        assert len(support.registered_fragments(at)) == 2  # the live table and the details
        row = rows(at)[0]
        assert (row["Name"], row["Template"], row["Phase"], row["Stopped"]) == (name, support.TEMPLATE, "Running", "")
        assert row["Last activity"].endswith("ago") and row["Age"]
        page = text(at)
        assert [(b.label, b.url) for b in at.link_button] == [("Open IDE", ws.status(env, name)["ideURL"])]
        ssh_command = ws.status(env, name)["sshCommand"]
        assert ssh_command in [c.value for c in at.code]
        assert f"Host cps1-{name}\n  HostName " in page and f"  User {name}\n" in page
        assert "TemplateResolved" in page and "Ready" in page  # the conditions
        assert ":green-badge[Running]" in page  # the phase badge of the details
        assert "background-color: #d3f9d8" in at.dataframe[0].proto.arrow_data.styler.styles  # the phase cell

        click(at, "Stop")
        assert f"Stopping {name}; its home volume is kept." in text(at)
        until(at, lambda a: rows(a)[0]["Phase"] == "Stopped", "the table to show Stopped")
        assert rows(at)[0]["Stopped"] == "stopped by its user"
        click(at, "Start")
        until(at, lambda a: rows(a)[0]["Phase"] == "Running", "the table to show Running again")

        at.text_input(key=f"param:{name}:cpu").input("3")
        assert at.selectbox(key=f"param:{name}:pythonVersion").disabled  # immutable
        click(at, "Save parameters")
        assert f"Saved the parameters of {name}." in text(at)
        assert ws.get(env, name)["spec"]["parameters"]["cpu"] == "3"

        support.admin(api_url).replace_template(support.TEMPLATE, _changed_template())
        until(at, lambda a: "The template changed since this workspace started" in text(a), "updatePending")

        click(at, "Delete")
        assert f"Delete workspace **{name}**? Its home volume is deleted too." in text(at)
        click(at, "Cancel")
        assert "Delete workspace" not in text(at) and not ws.get(env, name)["metadata"].get("deletionTimestamp")
        click(at, "Delete")
        assert ws.get(env, name)  # nothing happens before the confirmation
        click(at, f"Yes, delete {name}")
        assert f"Deleting {name}." in text(at)
        ws.wait_gone(env, name)
        at.run()
        assert "You have no workspaces yet." in text(at)
        assert support.registered_fragments(at) == set()  # no late refresh can draw into this page
    finally:
        ws.delete(env, name)
        ws.template(env, support.TEMPLATE)


def test_ports_expose_reshare_and_remove(env: Env, api_url: str, dana: str) -> None:
    """The Ports section of the Workspace view. Here no forward-auth runs, so a port is
    declared but not served (tests/e2e/test_preview_*.py open served ones)."""
    name = "con-ports"
    ApiClient(api_url, token=dana).create_workspace({"name": name, "template": support.TEMPLATE, "running": False})
    try:
        at = goto(signed_in(dana), "app_pages/workspaces.py")
        at.number_input(key=f"ports:{name}:port").set_value(3000)
        at.selectbox(key=f"ports:{name}:share").set_value("authenticated")
        at.text_input(key=f"ports:{name}:name").input("web")
        click(at, "Expose or re-share")
        assert ws.get(env, name)["spec"]["ports"] == [
            {"port": 3000, "name": "web", "share": "authenticated", "protocol": "http"}
        ]
        assert "authenticated (not served yet)" in text(at)
        at.number_input(key=f"ports:{name}:port").set_value(3000)
        click(at, "Remove")
        assert not ws.get(env, name)["spec"].get("ports")
    finally:
        ws.delete(env, name)


def _changed_template() -> dict:
    spec = dict(ws.PYTHON["spec"])
    spec["image"] = "cps1/workspace-python:0.2.0"
    return spec


def test_events_are_shown(env: Env, dana: str) -> None:
    name = "con-events"
    at = goto(signed_in(dana), "app_pages/create.py")
    at.selectbox(key="create.template").set_value(support.TEMPLATE).run()
    at.text_input(key="create.name").input(name)
    try:
        click(at, "Create workspace")
        ws.wait_phase(env, name, "Running", timeout=90)
        goto(at, "app_pages/workspaces.py")
        until(at, lambda a: "Scheduled" in text(a) and f"ws-{name}/workspace-" in text(a), "the pod's Scheduled event")
    finally:
        ws.delete(env, name)
        ws.wait_gone(env, name)


# SSH keys --------------------------------------------------------------------------------------


def test_ssh_keys_add_list_remove(dana: str) -> None:
    at = goto(signed_in(dana), "app_pages/keys.py")
    assert "No keys yet." in text(at)
    at.text_area(key="keys.key").input("ssh-rsa AAAA!!!!")
    click(at, "Add key")
    assert "Could not add the key" in at.error[0].value and "(HTTP 422)" in at.error[0].value
    assert at.text_area(key="keys.key").value == "ssh-rsa AAAA!!!!"  # kept for fixing
    at.text_area(key="keys.key").input(GOOD_KEY)
    click(at, "Add key")
    assert "Added the key." in text(at) and at.text_area(key="keys.key").value == ""
    fingerprint = "SHA256:" + text(at).split("`SHA256:")[1].split("`")[0]
    assert "**dana@laptop** · ssh-ed25519" in text(at)
    click(at, "Remove")
    assert f"Removed key {fingerprint}." in text(at) and "No keys yet." in text(at)


def test_secrets_add_list_remove_and_profile(dana: str, api_url: str) -> None:
    value = "dana-console-secret-3f9e"
    at = goto(signed_in(dana), "app_pages/secrets.py")
    assert "No secrets yet." in text(at)
    at.text_input(key="secrets.name").input("9bad")
    at.text_input(key="secrets.value").input(value)
    click(at, "Store secret")
    assert "Could not store the secret" in at.error[0].value and "(HTTP 422)" in at.error[0].value
    assert at.text_input(key="secrets.value").value == ""  # a value is never kept in the page
    at.text_input(key="secrets.name").input("NPM_TOKEN")
    at.text_input(key="secrets.value").input(value)
    click(at, "Store secret")
    assert "Stored the secret." in text(at) and "**NPM_TOKEN** · Environment variable" in text(at)
    assert value not in text(at) and not [k for k, v in at.session_state.to_dict().items() if value in str(v)]
    at.text_input(key="profile.gitName").input("Dana D")
    click(at, "Save profile")
    assert "Saved your profile." in text(at)
    assert ApiClient(api_url, token=dana, timeout=30).profile()["gitName"] == "Dana D"
    click(at, "Remove")
    assert "Removed secret NPM_TOKEN." in text(at) and "No secrets yet." in text(at)


# Admin -----------------------------------------------------------------------------------------


def admin() -> AppTest:
    return signed_in(support.ADMIN_TOKEN)


def test_admin_templates_list_with_usage(env: Env) -> None:
    ws.template(env, "con-usage")
    ws.workspace(env, "con-usage-ws", "con-usage", running=False)
    try:
        at = goto(admin(), "app_pages/admin_templates.py")
        listed = {r["Name"]: r for r in rows(at)}
        assert listed["con-usage"]["Parameters"] == 3 and listed["con-usage"]["Workspaces"] == 1
        assert listed["con-usage"]["Image"] == "cps1/workspace-python:0.1.0"
    finally:
        ws.delete(env, "con-usage-ws")
        ws.delete(env, "con-usage", "WorkspaceTemplate")


def test_admin_creates_a_template_with_the_form_after_validation(env: Env) -> None:
    name = "con-form"
    at = goto(admin(), "app_pages/admin_templates.py")
    assert at.selectbox(key="tpl.selected").value == ""  # "+ New template"
    at.text_input(key="tpl:+new:name").input(name)
    click(at, "Validate")
    assert "Could not save template the new template" in at.error[0].value
    assert ws.child(env, "x", ws.API, "WorkspaceTemplate", name) is None
    try:
        at.text_input(key="tpl:+new:image").input("cps1/workspace-go:0.1.0")
        at.text_input(key="tpl:+new:description").input("Go, from the console")
        at.text_input(key="tpl:+new:limitsMemory").input("4Gi")
        click(at, "Validate")
        assert f"Template {name} is valid." in text(at)
        assert ws.child(env, "x", ws.API, "WorkspaceTemplate", name) is None  # validating saves nothing
        click(at, "Save")
        assert f"Saved template {name}." in text(at)
        saved = found(ws.child(env, "x", ws.API, "WorkspaceTemplate", name))["spec"]
        assert saved["description"] == "Go, from the console" and saved["resources"] == {"limits": {"memory": "4Gi"}}
        assert at.selectbox(key="tpl.selected").value == name  # now editing what was saved
    finally:
        ws.delete(env, name, "WorkspaceTemplate")


def test_admin_edits_a_template_as_yaml_and_bad_yaml_saves_nothing(env: Env) -> None:
    name = "con-yaml"
    ws.template(env, name)
    try:
        at = goto(admin(), "app_pages/admin_templates.py")
        at.selectbox(key="tpl.selected").set_value(name).run()
        at.radio(key="tpl.mode").set_value("YAML").run()
        manifest = at.text_area(key=f"tpl:{name}:yaml").value
        assert manifest is not None
        assert f"kind: WorkspaceTemplate\nmetadata:\n  name: {name}\n" in manifest
        assert "pythonVersion" in manifest  # parameters come along
        at.text_area(key=f"tpl:{name}:yaml").input(manifest.replace("ide: 8080", "ide: 2222"))
        click(at, "Save")
        assert "ports must differ" in at.error[0].value
        assert found(ws.child(env, "x", ws.API, "WorkspaceTemplate", name))["spec"]["ports"]["ide"] == 8080
        at.text_area(key=f"tpl:{name}:yaml").input("spec: [unclosed")
        click(at, "Validate")
        assert "not valid YAML at line 1" in at.error[0].value and "HTTP" not in at.error[0].value
        at.text_area(key=f"tpl:{name}:yaml").input(manifest.replace("Python 3.13 with pip", "Edited as YAML"))
        click(at, "Save")
        assert f"Saved template {name}." in text(at)
        spec = found(ws.child(env, "x", ws.API, "WorkspaceTemplate", name))["spec"]
        assert spec["description"].startswith("Edited as YAML") and len(spec["parameters"]) == 3

        click(at, f"Delete template {name}…")
        assert f"Delete template **{name}**? No workspace uses it." in text(at)
        click(at, f"Yes, delete {name}")
        assert f"Deleted template {name}." in text(at)
        assert ws.child(env, "x", ws.API, "WorkspaceTemplate", name) is None
    finally:
        ws.delete(env, name, "WorkspaceTemplate")


def test_admin_sees_filters_stops_and_deletes_anyones_workspace(env: Env, dana: str) -> None:
    name = "con-admin"
    user = goto(signed_in(dana), "app_pages/create.py")
    user.selectbox(key="create.template").set_value(support.TEMPLATE).run()
    user.text_input(key="create.name").input(name)
    try:
        click(user, "Create workspace")
        ws.wait_phase(env, name, "Running", timeout=90)
        at = goto(admin(), "app_pages/admin_workspaces.py")
        at.selectbox(key="all.owner").set_value("dana").run()
        at.selectbox(key="all.phase").set_value("Running").run()
        assert [(r["Name"], r["Owner"]) for r in rows(at)] == [(name, "dana")]
        at.selectbox(key="all.phase").set_value("Stopped").run()
        assert "No workspace matches these filters." in text(at)
        assert support.registered_fragments(at) == set()
        at.selectbox(key="all.phase").set_value("").run()
        at.selectbox(key="all.template").set_value(support.TEMPLATE).run()
        at.selectbox(key="cps1.admin-selected-workspace").set_value(name).run()
        click(at, "Stop")
        until(at, lambda a: rows(a)[0]["Phase"] == "Stopped", "dana's workspace to stop")
        click(at, "Delete")
        click(at, f"Yes, delete {name}")
        ws.wait_gone(env, name)
    finally:
        ws.delete(env, name)


def test_admin_adds_a_user_and_issues_the_token_they_sign_in_with() -> None:
    at = goto(admin(), "app_pages/admin_users.py")
    assert {"Name": "root", "Admin": "yes", "SSH keys": 0} in rows(at)
    at.text_input(key="users.name").input("Gus!")
    click(at, "Save user")
    assert "Could not save the user" in at.error[0].value and at.text_input(key="users.name").value == "Gus!"
    at.text_input(key="users.name").input("gus")
    click(at, "Save user")
    assert "Saved user gus." in text(at) and {"Name": "gus", "Admin": "", "SSH keys": 0} in rows(at)
    at.selectbox(key="users.token-user").set_value("gus")
    at.text_input(key="users.token-name").input("laptop")
    at.number_input(key="users.token-days").set_value(30)
    click(at, "Issue token")
    assert "Hand this token to **gus** now: it is not shown again." in text(at)
    token = at.code[0].value
    assert token.startswith("cps1_") and "cps1.issued-token" not in at.session_state
    at.run()
    assert token not in text(at)  # shown once
    assert "Signed in as **gus**" in signed_in(token).sidebar.markdown[0].value
