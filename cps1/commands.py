"""`cps1 login`, `cps1 ws ...` and `cps1 template ...`: the Workspace API from a terminal."""

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import TextIO

import yaml

import kubeclient as kube
from apiclient.client import ApiClient
from apiclient.errors import ApiError, NotSent, describe

# Where `--wait` stops: the phase asked for, or a failure.
WAIT_FOR = {"create": "Running", "start": "Running", "stop": "Stopped"}


class CommandFailed(Exception):
    """The command could not do what was asked (the message says why), without an API error."""


def explain(err: ApiError) -> str:
    """An API error in the CLI's terms."""
    return describe(
        err,
        unreachable="Check the URL given to `cps1 login` (or CPS1_API_URL).",
        unauthorized="Run `cps1 login --url URL --token TOKEN` with a valid token.",
    )


def config_path() -> Path:
    """Where `cps1 login` keeps the API address and token (CPS1_CONFIG to move it)."""
    return Path(os.environ.get("CPS1_CONFIG", Path.home() / ".config" / "cps1" / "config.json"))


def save_login(url: str, token: str) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"url": url.rstrip("/"), "token": token}, out)
    return path


def client(url: str = "", token: str = "") -> ApiClient:
    """A client with the credentials given, else CPS1_API_URL/CPS1_TOKEN, else what `cps1 login`
    saved."""
    saved: dict[str, str] = {}
    if not (url and token) and config_path().exists():
        saved = json.loads(config_path().read_text())
    url = url or os.environ.get("CPS1_API_URL") or saved.get("url", "")
    token = token or os.environ.get("CPS1_TOKEN") or saved.get("token", "")
    if not url or not token:
        raise NotSent("not logged in: run `cps1 login --url URL --token TOKEN`")
    return ApiClient(url, token=token, use_environment=True)


def _print_table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def wait_running(api: ApiClient, name: str, timeout: float, out: TextIO | None = None, phase: str = "Running") -> dict:
    """Poll until the Workspace is in `phase` (or Failed), printing each phase change (stderr by
    default, looked up at call time so a redirected stream is honoured)."""
    out = out or sys.stderr
    last = ""
    for _ in kube.poll(timeout, 1.0):
        ws = api.workspace(name)
        if ws["phase"] != last:
            last = ws["phase"]
            print(f"{name}: {last}" + (f" ({ws['message']})" if ws.get("message") else ""), file=out)
        if ws["phase"] in (phase, "Failed"):
            return ws
    raise CommandFailed(f"{name} was not {phase} after {timeout:.0f}s (now {last})")


def _params(pairs: list[str]) -> dict:
    """`key=value` pairs; values are read as YAML scalars, so 2 is a number and true a bool."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise NotSent(f"--param takes key=value, got {pair!r}")
        out[key] = yaml.safe_load(value) if value else ""
    return out


def ssh_config(ws: dict) -> str:
    """An ~/.ssh/config block for the Workspace, from the SSH command in its status."""
    match = re.match(r"ssh(?: -p (\d+))? (\S+)@(\S+)$", ws.get("sshCommand", ""))
    if not match:
        raise CommandFailed(f"{ws['name']} has no SSH address yet")
    port, user, host = match.groups()
    return (
        f"Host cps1-{ws['name']}\n  HostName {host}\n  Port {port or 22}\n  User {user}\n"
        "  IdentitiesOnly yes\n  ServerAliveInterval 30\n"
    )


def login(args: argparse.Namespace) -> int:
    me = client(args.url, args.token).me()
    path = save_login(args.url, args.token)
    print(f"logged in as {me['name']}{' (admin)' if me['admin'] else ''}; saved to {path}")
    return 0


def ws_command(args: argparse.Namespace) -> int:
    api = client()
    if args.ws_command == "list":
        items = api.workspaces(owner=args.owner or "")
        _print_table(
            [[w["name"], w["owner"], w["template"], w["phase"], w["stoppedReason"], w["lastActivity"]] for w in items],
            ["NAME", "OWNER", "TEMPLATE", "PHASE", "STOPPED", "LAST ACTIVITY"],
        )
        return 0
    if args.ws_command == "create":
        body = {
            "name": args.name,
            "template": args.template,
            "parameters": _params(args.param),
            "running": not args.stopped,
        }
        ws = api.create_workspace(body)
        print(f"created {ws['name']} from {ws['template']}")
    elif args.ws_command in ("start", "stop"):
        ws = api.start(args.name) if args.ws_command == "start" else api.stop(args.name)
        print(f"{args.ws_command} requested for {args.name}")
    elif args.ws_command == "delete":
        api.delete_workspace(args.name)
        print(f"deleting {args.name}")
        return 0
    elif args.ws_command == "ssh-config":
        sys.stdout.write(ssh_config(api.workspace(args.name)))
        return 0
    elif args.ws_command == "ide-password":
        print(api.ide_password(args.name))
        return 0
    if getattr(args, "wait", False) and (ws.get("running", True) or args.ws_command == "stop"):
        wanted = WAIT_FOR[args.ws_command]
        ws = wait_running(api, args.name, args.timeout, phase=wanted)
        return 0 if ws["phase"] == wanted else 1
    return 0


def key_command(args: argparse.Namespace) -> int:
    """Your SSH public keys: the gateway lets them into all your Workspaces."""
    api = client()
    if args.key_command == "add":
        line = Path(args.file).expanduser().read_text().strip()
        key = api.add_key(line, args.name or "")
        print(f"added key {key['name']} ({key['fingerprint']})")
        return 0
    items = api.keys()
    _print_table([[k["name"], k["fingerprint"], k["added"]] for k in items], ["NAME", "FINGERPRINT", "ADDED"])
    return 0


def template_command(args: argparse.Namespace) -> int:
    api = client()
    if args.template_command == "list":
        items = api.templates()
        _print_table(
            [[t["name"], t["displayName"], t["image"], ",".join(p["name"] for p in t["parameters"])] for t in items],
            ["NAME", "DISPLAY NAME", "IMAGE", "PARAMETERS"],
        )
        return 0
    for doc in yaml.safe_load_all(Path(args.file).read_text()):
        if not doc or doc.get("kind") != "WorkspaceTemplate":
            continue
        name, spec = doc["metadata"]["name"], doc.get("spec") or {}
        try:
            api.replace_template(name, spec)
            print(f"updated template {name}")
        except ApiError as err:
            if err.status != 404:
                raise
            api.create_template(name, spec)
            print(f"created template {name}")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    log_in = sub.add_parser("login", help="save the API address and a token")
    log_in.add_argument("--url", required=True)
    log_in.add_argument("--token", required=True)
    log_in.set_defaults(func=login)

    ws = sub.add_parser("ws", help="your Workspaces").add_subparsers(dest="ws_command", required=True)
    listing = ws.add_parser("list")
    listing.add_argument("--owner", help="admins: someone else's")
    create = ws.add_parser("create")
    create.add_argument("name")
    create.add_argument("--template", required=True)
    create.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    create.add_argument("--stopped", action="store_true", help="create without starting")
    for verb in ("start", "stop", "delete", "ssh-config", "ide-password"):
        ws.add_parser(verb).add_argument("name")
    for name in WAIT_FOR:
        ws.choices[name].add_argument("--wait", action="store_true", help=f"show progress until {WAIT_FOR[name]}")
        ws.choices[name].add_argument("--timeout", type=float, default=300)
    for cmd in ws.choices.values():
        cmd.set_defaults(func=ws_command)

    key = sub.add_parser("key", help="your SSH public keys").add_subparsers(dest="key_command", required=True)
    add = key.add_parser("add", help="register a public key (e.g. ~/.ssh/id_ed25519.pub)")
    add.add_argument("file")
    add.add_argument("--name", help="a label for it (default: from the key's comment)")
    key.add_parser("list")
    for cmd in key.choices.values():
        cmd.set_defaults(func=key_command)

    template = sub.add_parser("template", help="Workspace templates").add_subparsers(
        dest="template_command", required=True
    )
    template.add_parser("list").set_defaults(func=template_command)
    apply = template.add_parser("apply", help="create or update templates from YAML (admins)")
    apply.add_argument("-f", "--file", required=True)
    apply.set_defaults(func=template_command)
