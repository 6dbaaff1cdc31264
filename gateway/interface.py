"""Paramiko's ServerInterface for one connection: public keys only, and the channel policy.

Offered: session channels (shell, exec, subsystem, pty-req, env, window-change, agent
forwarding unless the admin switched it off, and signal / break through gateway.transport) and
direct-tcpip (handled asynchronously by the transport). Refused, with the reason: passwords and
keyboard-interactive (keys only), remote forwarding (`ssh -R`), X11 forwarding, Unix-socket
forwarding (Paramiko does not expose its socket path), and any other channel type. Global
requests such as keepalive@openssh.com are answered "failure", which OpenSSH counts as a live
server.
"""

from typing import TYPE_CHECKING

import paramiko
from paramiko.common import OPEN_FAILED_RESOURCE_SHORTAGE, OPEN_FAILED_UNKNOWN_CHANNEL_TYPE, OPEN_SUCCEEDED

from gateway.auth import Authenticator
from gateway.session import Pty

if TYPE_CHECKING:
    from gateway.connection import Connection


class Interface(paramiko.ServerInterface):
    """Authentication questions go to the connection's Authenticator, channel questions to the
    connection."""

    def __init__(self, auth: Authenticator, conn: "Connection") -> None:
        self.auth = auth
        self.conn = conn

    # Authentication ----------------------------------------------------------------------

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_none(self, username: str) -> int:
        return self.auth.auth_none(username)

    def check_auth_password(self, username: str, password: str) -> int:
        return self.auth.auth_refused_method("password")

    def check_auth_interactive(self, username: str, submethods: str) -> int:
        return self.auth.auth_refused_method("keyboard-interactive")

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        return self.auth.auth_publickey(username, key)

    # Channels ----------------------------------------------------------------------------

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind != "session":
            return OPEN_FAILED_UNKNOWN_CHANNEL_TYPE
        if not self.conn.admit_session(chanid):
            return OPEN_FAILED_RESOURCE_SHORTAGE
        return OPEN_SUCCEEDED

    def check_channel_pty_request(
        self,
        channel: paramiko.Channel,
        term: bytes,
        width: int,
        height: int,
        pixelwidth: int,
        pixelheight: int,
        modes: bytes,
    ) -> bool:
        name = term.decode(errors="replace") if isinstance(term, bytes) else str(term)
        return self.conn.session(channel).on_pty(Pty(name, width, height, pixelwidth, pixelheight, modes))

    def check_channel_env_request(self, channel: paramiko.Channel, name: bytes, value: bytes) -> bool:
        return self.conn.session(channel).on_env(name, value)

    def check_channel_window_change_request(
        self, channel: paramiko.Channel, width: int, height: int, pixelwidth: int, pixelheight: int
    ) -> bool:
        return self.conn.session(channel).on_window_change(width, height, pixelwidth, pixelheight)

    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        return self.conn.session(channel).on_start("shell", b"")

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        return self.conn.session(channel).on_start("exec", command)

    def check_channel_subsystem_request(self, channel: paramiko.Channel, name: str) -> bool:
        return self.conn.session(channel).on_start("subsystem", name)

    def check_channel_forward_agent_request(self, channel: paramiko.Channel) -> bool:
        return self.conn.session(channel).on_agent()

    def check_channel_x11_request(
        self, channel: paramiko.Channel, single_connection: bool, auth_protocol: str, auth_cookie: bytes, screen: int
    ) -> bool:
        return False

    def check_port_forward_request(self, address: str, port: int) -> bool:
        return False

    def check_global_request(self, kind: str, msg: paramiko.Message) -> bool:
        return False
