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
from common import previews

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


def url_of(ws: dict, port: int | None) -> str:
    """The Workspace's IDE URL, or the URL of its exposed `port`."""
    if port is None:
        return str(ws.get("ideURL") or "")
    for served in ws.get("previews") or []:
        if served["port"] == port:
            return str(served["url"])
    raise CommandFailed(f"{ws['name']} does not serve port {port}; expose it with `cps1 ws port {ws['name']} {port}`")


def port_command(args: argparse.Namespace) -> int:
    """Preview ports: expose, share, list and open the web apps of a Workspace."""
    api = client()
    ws = api.workspace(args.name)
    if args.ws_command == "port":
        ports = previews.with_port(
            ws.get("ports") or [], args.port, share=args.share, name=args.label, remove=args.remove
        )
        ws = api.update_workspace(args.name, {"ports": ports})
        verb = "removed" if args.remove else f"shared {args.share or 'as before'}"
        print(f"port {args.port} of {args.name}: {verb}")
        return 0
    if args.ws_command == "ports":
        served = {p["port"]: p for p in ws.get("previews") or []}
        _print_table(
            [
                [
                    str(p["port"]),
                    p.get("name", ""),
                    served.get(p["port"], {}).get("share", "(not served)"),
                    served.get(p["port"], {}).get("url", ""),
                ]
                for p in ws.get("ports") or []
            ],
            ["PORT", "NAME", "SHARE", "URL"],
        )
        return 0
    print(api.preview_grant(url_of(ws, args.port)))
    return 0


def login(args: argparse.Namespace) -> int:
    token = args.token
    if args.oidc:
        from cps1 import oidc_login

        try:
            api = ApiClient(args.url, use_environment=True)
            token = oidc_login.oidc_login(api, print, browser=args.browser)["token"]
        except oidc_login.OidcLoginFailed as err:
            raise CommandFailed(str(err)) from err
    if not token:
        raise CommandFailed("give --token TOKEN, or --oidc to sign in through your identity provider")
    me = client(args.url, token).me()
    path = save_login(args.url, token)
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
        if args.secret:
            body["secrets"] = args.secret
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


def secret_command(args: argparse.Namespace) -> int:
    """Your secrets: write-only; the value comes from a file or stdin, never the command line
    (where shell history and `ps` would keep it)."""
    api = client()
    if args.secret_command == "set":
        value = Path(args.from_file).expanduser().read_text() if args.from_file else sys.stdin.read()
        if args.kind != "file":
            value = value.rstrip("\n")
        secret = api.set_secret(args.name, args.kind, value, args.host or "", args.username or "")
        print(f"stored {args.kind} secret {secret['name']}; Workspaces that name it get it at their next start")
    elif args.secret_command == "rm":
        api.remove_secret(args.name)
        print(f"removed secret {args.name}")
    else:
        _print_table(
            [[s["name"], s["kind"], s.get("host", ""), s["created"], s["lastUsed"]] for s in api.secrets()],
            ["NAME", "KIND", "HOST", "CREATED", "LAST USED"],
        )
    return 0


PROFILE_FLAGS = {"git_name": "gitName", "git_email": "gitEmail", "dotfiles": "dotfiles"}


def profile_command(args: argparse.Namespace) -> int:
    """Show your profile, or change the fields given (the others are kept)."""
    api = client()
    profile = api.profile()
    changes = {field: getattr(args, flag) for flag, field in PROFILE_FLAGS.items() if getattr(args, flag) is not None}
    if changes:
        profile = api.set_profile({**profile, **changes})
    for field in PROFILE_FLAGS.values():
        print(f"{field}: {profile.get(field, '')}")
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
    how = log_in.add_mutually_exclusive_group(required=True)
    how.add_argument("--token", help="an API token an admin issued")
    how.add_argument(
        "--oidc",
        action="store_true",
        help="sign in through the identity provider: a device code, or a browser on this machine where the provider "
        "does not offer the CLI the device grant",
    )
    log_in.add_argument("--browser", action="store_true", help="with --oidc: sign in with a browser on this machine")
    log_in.set_defaults(func=login)

    ws = sub.add_parser("ws", help="your Workspaces").add_subparsers(dest="ws_command", required=True)
    listing = ws.add_parser("list")
    listing.add_argument("--owner", help="admins: someone else's")
    create = ws.add_parser("create")
    create.add_argument("name")
    create.add_argument("--template", required=True)
    create.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    create.add_argument("--stopped", action="store_true", help="create without starting")
    create.add_argument("--secret", action="append", default=[], metavar="NAME", help="one of your secrets it gets")
    for verb in ("start", "stop", "delete", "ssh-config", "ide-password"):
        ws.add_parser(verb).add_argument("name")
    for name in WAIT_FOR:
        ws.choices[name].add_argument("--wait", action="store_true", help=f"show progress until {WAIT_FOR[name]}")
        ws.choices[name].add_argument("--timeout", type=float, default=300)
    for cmd in ws.choices.values():
        cmd.set_defaults(func=ws_command)
    port = ws.add_parser("port", help="expose a web app's port, change its share level, or --remove it")
    port.add_argument("name")
    port.add_argument("port", type=int)
    port.add_argument("--share", choices=["owner", "authenticated", "public"], default="")
    port.add_argument("--name", dest="label", default="", help="a label for people (e.g. web)")
    port.add_argument("--remove", action="store_true")
    ws.add_parser("ports", help="the exposed ports and their URLs").add_argument("name")
    opener = ws.add_parser("open", help="print a link that opens the IDE or a port signed in (valid a minute)")
    opener.add_argument("name")
    opener.add_argument("port", type=int, nargs="?")
    for verb in ("port", "ports", "open"):
        ws.choices[verb].set_defaults(func=port_command)

    key = sub.add_parser("key", help="your SSH public keys").add_subparsers(dest="key_command", required=True)
    add = key.add_parser("add", help="register a public key (e.g. ~/.ssh/id_ed25519.pub)")
    add.add_argument("file")
    add.add_argument("--name", help="a label for it (default: from the key's comment)")
    key.add_parser("list")
    for cmd in key.choices.values():
        cmd.set_defaults(func=key_command)

    secret = sub.add_parser("secret", help="your secrets (write-only)").add_subparsers(
        dest="secret_command", required=True
    )
    put = secret.add_parser("set", help="store or replace a secret; the value is read from stdin or --from-file")
    put.add_argument("name", help="env variable or file name: letters, digits and _")
    put.add_argument("--kind", choices=["env", "file", "git-credential"], default="env")
    put.add_argument("--from-file", help="read the value from this file")
    put.add_argument("--host", help="git-credential: the Git host, e.g. github.com")
    put.add_argument("--username", help="git-credential: the user name Git sends (default: git)")
    secret.add_parser("list")
    secret.add_parser("rm").add_argument("name")
    for cmd in secret.choices.values():
        cmd.set_defaults(func=secret_command)
    profile = sub.add_parser("profile", help="show or set your Git identity and dotfiles repository")
    profile.add_argument("--git-name")
    profile.add_argument("--git-email")
    profile.add_argument("--dotfiles", help="a Git URL applied at each Workspace's first start ('' to clear)")
    profile.set_defaults(func=profile_command)

    template = sub.add_parser("template", help="Workspace templates").add_subparsers(
        dest="template_command", required=True
    )
    template.add_parser("list").set_defaults(func=template_command)
    apply = template.add_parser("apply", help="create or update templates from YAML (admins)")
    apply.add_argument("-f", "--file", required=True)
    apply.set_defaults(func=template_command)
