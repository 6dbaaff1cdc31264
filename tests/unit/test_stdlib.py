"""The standard-library bugs in `tests/support/stdlib.py` exist on this Python, and each filter
matches the bug's warning and nothing wider."""

import gc
import re
import select
import socket
import ssl
import struct
import warnings

import pytest

from tests.support.stdlib import SSL_RESET_BEFORE_HANDSHAKE


def test_tls_wrap_of_a_reset_connection_leaks_a_socket_that_only_the_filter_matches() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        peer, _ = server.accept()
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.close()  # a reset, as a killed API server sends
        assert select.select([client], [], [], 10)[0], "the reset never arrived"
        port = client.getsockname()[1]
        gc.collect()  # other tests' garbage meets the suite's own filters, not this record
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            try:
                ssl.create_default_context().wrap_socket(client, server_hostname="localhost")
            except ConnectionResetError:
                pass
            else:
                pytest.fail("the handshake succeeded on a reset connection")
            gc.collect()
        client.close()  # already detached by wrap_socket: closes nothing
    leaks = [str(w.message) for w in caught if f"'127.0.0.1', {port})" in str(w.message)]
    assert leaks, "this Python closes the socket (gh-113280 fixed): drop SSL_RESET_BEFORE_HANDSHAKE"
    assert re.match(SSL_RESET_BEFORE_HANDSHAKE, leaks[0], re.I), leaks


def test_the_filter_does_not_match_a_connected_tls_socket() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server, socket.create_connection(server.getsockname()) as raw:
        peer, _ = server.accept()
        context = ssl.create_default_context()
        with peer, context.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False) as tls:
            assert "raddr" in repr(tls)
            assert not re.match(SSL_RESET_BEFORE_HANDSHAKE, f"unclosed {tls!r}", re.I)
