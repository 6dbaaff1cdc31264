"""The CPS1 Workspace API over HTTP, for the console and the CLI.

One method per operation, returning the API's JSON as plain dicts; every failure is an
`apiclient.errors.ApiError`. The caller's credential (a bearer token, or the user name an
authenticating proxy vouched for) is held by the client object only (in the console, inside the
user's Streamlit session); it never goes into a URL, an error message or a log.
"""

from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from apiclient import errors
from common import accounts

# A reloading ingress can close a connection without answering (Caddy did, once in a loaded run,
# as a Workspace's route went away). A GET or HEAD that got no answer (closed, or timed out) is
# sent once more, as browsers do; other methods are not, since the first attempt may have done
# its work. Refused connections and other failures are not retried (`connect=0`, `other=0`),
# nor is any answer.
RESEND_UNANSWERED = Retry(
    total=1, connect=0, read=1, status=0, other=0, allowed_methods=frozenset({"GET", "HEAD"}), raise_on_status=False
)


def http_session(use_environment: bool = False) -> requests.Session:
    """A session that resends an unanswered GET or HEAD. Only our own credentials go out: no
    ~/.netrc, no proxy settings from the environment (a service's environment is not its
    user's), unless the caller is the user's own program (the CLI honours HTTPS_PROXY like any
    command-line tool)."""
    session = requests.Session()
    session.trust_env = use_environment
    adapter = HTTPAdapter(max_retries=RESEND_UNANSWERED)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class ApiClient:
    def __init__(
        self,
        url: str,
        *,
        token: str = "",
        proxy_header: str = "",
        proxy_user: str = "",
        proxy_secret: str = "",
        timeout: float = 15.0,
        use_environment: bool = False,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = http_session(use_environment)
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        elif proxy_header and proxy_user:
            self.session.headers[proxy_header] = proxy_user
            self.session.headers[accounts.PROXY_SECRET_HEADER] = proxy_secret

    def call(
        self, method: str, path: str, *, body: dict[str, Any] | None = None, params: dict[str, Any] | None = None
    ) -> Any:
        """JSON of the answer (None for 204); ApiError with the API's message otherwise."""
        try:
            answer = self.session.request(
                method, f"{self.url}/api/v1{path}", json=body, params=params, timeout=self.timeout
            )
        except requests.RequestException as err:
            raise errors.Unreachable(self.url, type(err).__name__) from err
        if answer.status_code == 204:
            return None
        try:
            data = answer.json()
        except ValueError:
            data = None
        if answer.status_code >= 400:
            if not isinstance(data, dict):
                data = {"message": answer.reason or "error"}
            kind = errors.Unauthorized if answer.status_code == 401 else errors.ApiError
            fields = errors.flatten_detail(data.get("detail"))
            raise kind(answer.status_code, str(data.get("message") or answer.reason), fields)
        if data is None:
            raise errors.ApiError(answer.status_code, "the API answered something that is not JSON")
        return data

    # Who am I -----------------------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        return self.call("GET", "/me")

    def oidc_config(self) -> dict[str, Any]:
        """Whether the API signs people in through an identity provider, and where."""
        return self.call("GET", "/oidc")

    def oidc_token(self, id_token: str) -> dict[str, Any]:
        """A CPS1 session token ({user, token, expires}) for the ID token of a device sign-in."""
        return self.call("POST", "/oidc/token", body={"idToken": id_token})

    # Workspaces ---------------------------------------------------------------------------

    def workspaces(self, *, owner: str = "", template: str = "", phase: str = "") -> list[dict[str, Any]]:
        """Your Workspaces; an admin's call lists everyone's, narrowed by the filters given."""
        params = {k: v for k, v in (("owner", owner), ("template", template), ("phase", phase)) if v}
        return self.call("GET", "/workspaces", params=params)["items"]

    def workspace(self, name: str) -> dict[str, Any]:
        return self.call("GET", f"/workspaces/{_seg(name)}")

    def create_workspace(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", "/workspaces", body=body)

    def update_workspace(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.call("PATCH", f"/workspaces/{_seg(name)}", body=body)

    def start(self, name: str) -> dict[str, Any]:
        return self.call("POST", f"/workspaces/{_seg(name)}/start")

    def stop(self, name: str) -> dict[str, Any]:
        return self.call("POST", f"/workspaces/{_seg(name)}/stop")

    def delete_workspace(self, name: str) -> None:
        self.call("DELETE", f"/workspaces/{_seg(name)}")

    def ide_password(self, name: str) -> str:
        return str(self.call("GET", f"/workspaces/{_seg(name)}/ide-password")["password"])

    def preview_grant(self, url: str) -> str:
        """A link that opens the Workspace `url` (IDE or port) signed in as this client's user."""
        return str(self.call("POST", "/preview/grants", body={"url": url})["url"])

    def events(self, name: str) -> list[dict[str, Any]]:
        return self.call("GET", f"/workspaces/{_seg(name)}/events")["items"]

    # Templates ----------------------------------------------------------------------------

    def templates(self) -> list[dict[str, Any]]:
        return self.call("GET", "/templates")["items"]

    def template(self, name: str) -> dict[str, Any]:
        return self.call("GET", f"/templates/{_seg(name)}")

    def validate_template(self, name: str, spec: dict[str, Any]) -> None:
        """Raises ApiError (422 with the fields) when the API server would refuse the template."""
        self.call("POST", "/templates/validate", body={"name": name, "spec": spec})

    def create_template(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", "/templates", body={"name": name, "spec": spec})

    def replace_template(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return self.call("PUT", f"/templates/{_seg(name)}", body={"spec": spec})

    def delete_template(self, name: str) -> None:
        self.call("DELETE", f"/templates/{_seg(name)}")

    # SSH keys -----------------------------------------------------------------------------

    def keys(self) -> list[dict[str, Any]]:
        return self.call("GET", "/me/keys")["items"]

    def add_key(self, key: str, name: str = "") -> dict[str, Any]:
        body = {"key": key, **({"name": name} if name else {})}
        return self.call("POST", "/me/keys", body=body)

    def remove_key(self, fingerprint: str) -> None:
        # A fingerprint holds '/' and '+': the API's route takes the rest of the path.
        self.call("DELETE", f"/me/keys/{quote(fingerprint, safe='/:')}")

    # Your secrets and profile --------------------------------------------------------------

    def secrets(self) -> list[dict[str, Any]]:
        """Your secrets' names, kinds and dates (the api never returns a value)."""
        return self.call("GET", "/me/secrets")["items"]

    def set_secret(self, name: str, kind: str, value: str, host: str = "", username: str = "") -> dict[str, Any]:
        body = {"kind": kind, "value": value, **({"host": host} if host else {})}
        body.update({"username": username} if username else {})
        return self.call("PUT", f"/me/secrets/{_seg(name)}", body=body)

    def remove_secret(self, name: str) -> None:
        self.call("DELETE", f"/me/secrets/{_seg(name)}")

    def profile(self) -> dict[str, Any]:
        return self.call("GET", "/me/profile")

    def set_profile(self, profile: dict[str, str]) -> dict[str, Any]:
        return self.call("PUT", "/me/profile", body=profile)

    # Users (admins) -----------------------------------------------------------------------

    def users(self) -> list[dict[str, Any]]:
        return self.call("GET", "/users")["items"]

    def create_user(self, name: str, *, admin: bool = False) -> dict[str, Any]:
        """Create a user, or change whether an existing one is an admin."""
        return self.call("POST", "/users", body={"name": name, "admin": admin})

    def issue_token(self, user: str, name: str, expires_in_days: int | None = None) -> dict[str, Any]:
        """A token for `user` to hand over; the answer is the only time it is shown."""
        body: dict[str, Any] = {"name": name, **({"expiresInDays": expires_in_days} if expires_in_days else {})}
        return self.call("POST", f"/users/{_seg(user)}/tokens", body=body)


def _seg(name: str) -> str:
    """A name as one path segment, so a stray '/' or '?' cannot reach another route."""
    return quote(name, safe="")
