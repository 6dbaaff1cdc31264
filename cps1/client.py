"""The CLI's client of the Workspace API, and where `cps1 login` keeps its credentials."""

import json
import os
from pathlib import Path
from typing import Any

import requests


class ApiError(Exception):
    """An error answer from the API, with its message and field details."""

    def __init__(self, status: int, message: str, fields: dict | None = None) -> None:
        detail = "".join(f"\n  {field}: {text}" for field, text in (fields or {}).items())
        super().__init__(f"{message} (HTTP {status}){detail}")
        self.status = status


def config_path() -> Path:
    return Path(os.environ.get("CPS1_CONFIG", Path.home() / ".config" / "cps1" / "config.json"))


def save_login(url: str, token: str) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"url": url.rstrip("/"), "token": token}, out)
    return path


class Client:
    def __init__(self, url: str, token: str, timeout: float = 15) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.timeout = timeout

    @classmethod
    def from_login(cls) -> "Client":
        """From CPS1_API_URL/CPS1_TOKEN, else from what `cps1 login` saved."""
        saved: dict[str, str] = {}
        if config_path().exists():
            saved = json.loads(config_path().read_text())
        url = os.environ.get("CPS1_API_URL") or saved.get("url")
        token = os.environ.get("CPS1_TOKEN") or saved.get("token")
        if not url or not token:
            raise ApiError(401, "not logged in: run `cps1 login --url URL --token TOKEN`")
        return cls(url, token)

    def call(self, method: str, path: str, body: dict | None = None) -> Any:
        try:
            answer = self.session.request(method, f"{self.url}/api/v1{path}", json=body, timeout=self.timeout)
        except requests.RequestException as err:
            raise ApiError(0, f"cannot reach the CPS1 API at {self.url}: {type(err).__name__}") from err
        if answer.status_code == 204:
            return None
        try:
            data = answer.json()
        except ValueError:
            data = {"message": answer.text[:200]}
        if answer.status_code >= 400:
            fields = (data.get("detail") or {}).get("fields") or (data.get("detail") or {}).get("json")
            raise ApiError(answer.status_code, str(data.get("message", "error")), fields)
        return data
