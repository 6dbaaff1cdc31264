"""Preview ports as data: template defaults overlaid by the Workspace, the template's share cap,
the IDE's and sshd's ports refused, and hosts that parse back to one Workspace only."""

from common import names, previews
from common.previews import Port


def test_workspace_ports_overlay_template_defaults() -> None:
    template = {"previews": {"defaultPorts": [{"port": 3000, "name": "web"}, {"port": 8888, "share": "public"}]}}
    spec = {"ports": [{"port": 8888, "name": "nb", "share": "owner"}, {"port": 5000, "share": "authenticated"}]}
    assert previews.declared_ports(spec, template) == [
        Port(3000, "web", "owner"),
        Port(5000, "", "authenticated"),
        Port(8888, "nb", "owner"),
    ]


def test_share_above_the_template_maximum_is_reported_and_capped() -> None:
    template = {"previews": {"maxShare": "authenticated"}}
    ports = [Port(3000, "", "public"), Port(4000, "", "authenticated")]
    assert list(previews.share_problems(ports, template)) == [3000]
    assert previews.capped("public", previews.max_share(template)) == "authenticated"
    assert previews.capped("owner", "public") == "owner"
    assert previews.capped("bogus", "public") == "owner"
    assert previews.max_share({}) == "public"


def test_ide_and_sshd_ports_are_refused() -> None:
    problems = previews.reserved_problems([Port(3000, "", "owner"), Port(9000, "", "owner")], {"IDE": 9000})
    assert problems == {9000: "port 9000 is the workspace's IDE port and cannot be exposed"}


def test_hosts_parse_back_to_their_workspace_and_port() -> None:
    domain = "ws.example.com"
    assert previews.host(3000, "alice-dev", domain) == "3000--alice-dev.ws.example.com"
    assert previews.parse_host("3000--alice-dev.ws.example.com:8443", domain) == ("alice-dev", 3000)
    assert previews.parse_host("alice-dev.WS.example.com", domain) == ("alice-dev", None)
    assert previews.parse_host("a.b.ws.example.com", domain) is None
    assert previews.parse_host("evil.com", domain) is None
    assert previews.parse_host("ws.example.com", domain) is None


def test_a_workspace_cannot_be_named_like_another_ones_preview_host() -> None:
    assert names.workspace_name_error("3000--alice-dev") is not None
    assert names.workspace_name_error("web-3000--x") is None
