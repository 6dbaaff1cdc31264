"""From a Workspace's `sshCommand` (``ssh -p 2222 <workspace>@<gateway>``) to what a developer
pastes: the command itself and an ``~/.ssh/config`` entry, which VS Code Remote-SSH and
JetBrains Gateway read as a host. Pure, so the parsing is tested on its own."""

import shlex
from dataclasses import dataclass

DEFAULT_PORT = 22


@dataclass(frozen=True)
class SshTarget:
    host: str
    port: int
    user: str


def parse_command(command: str) -> SshTarget | None:
    """The gateway address in an ``ssh [-p PORT] [-l USER] [USER@]HOST`` line; None when it is
    not one (another option, a remote command, a bad port)."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if not words or words[0] != "ssh":
        return None
    # ssh takes an option's value attached too (-p2222): split it off first.
    words = [part for w in words[1:] for part in ((w[:2], w[2:]) if w[:2] in ("-p", "-l") and len(w) > 2 else (w,))]
    port, user, hosts = DEFAULT_PORT, "", []
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("-p", "-l") and i + 1 < len(words):
            value = words[i + 1]
            i += 2
            if word == "-l":
                user = value
            elif value.isdigit() and 0 < int(value) < 65536:
                port = int(value)
            else:
                return None
        elif word.startswith("-"):
            return None
        else:
            hosts.append(word)
            i += 1
    if len(hosts) != 1:
        return None
    login, _, host = hosts[0].rpartition("@")
    return SshTarget(host, port, login or user) if host else None


def host_alias(workspace: str) -> str:
    return f"cps1-{workspace}"


def config_snippet(workspace: str, command: str) -> str | None:
    """An ``~/.ssh/config`` entry named ``cps1-<workspace>``; None when the command is unreadable."""
    target = parse_command(command)
    if target is None:
        return None
    lines = [f"Host {host_alias(workspace)}", f"  HostName {target.host}", f"  Port {target.port}"]
    if target.user:
        lines.append(f"  User {target.user}")
    return "\n".join(lines) + "\n"
