"""The SSH command of a Workspace's status, parsed into an ~/.ssh/config entry."""

import pytest

from console import ssh


@pytest.mark.parametrize(
    ("command", "target"),
    [
        ("ssh -p 2222 api@gw.example.com", ssh.SshTarget("gw.example.com", 2222, "api")),
        ("ssh api@127.0.0.1", ssh.SshTarget("127.0.0.1", 22, "api")),
        ("ssh -p2200 alice+api@gw", ssh.SshTarget("gw", 2200, "alice+api")),
        ("ssh -l api -p 2222 gw", ssh.SshTarget("gw", 2222, "api")),
        ("ssh gw", ssh.SshTarget("gw", 22, "")),
    ],
)
def test_readable_commands(command: str, target: ssh.SshTarget) -> None:
    assert ssh.parse_command(command) == target


@pytest.mark.parametrize(
    "command",
    [
        "",
        "scp a b",
        "ssh",
        "ssh -p notaport api@gw",
        "ssh -p 70000 api@gw",
        "ssh -o ProxyCommand=evil api@gw",
        "ssh api@gw rm -rf /",
        "ssh 'unbalanced@gw",
        "ssh api@",
    ],
)
def test_anything_else_is_refused(command: str) -> None:
    assert ssh.parse_command(command) is None


def test_config_snippet() -> None:
    assert ssh.config_snippet("api", "ssh -p 2222 api@gw.example.com") == (
        "Host cps1-api\n  HostName gw.example.com\n  Port 2222\n  User api\n"
    )
    assert ssh.config_snippet("api", "ssh gw") == "Host cps1-api\n  HostName gw\n  Port 22\n"
    assert ssh.config_snippet("api", "telnet gw") is None
