"""Python standard-library bugs the suite meets, each named with its upstream issue, so that a
filter for one stays as narrow as the bug, and goes when Python is fixed (a unit test watches)."""

# CPython gh-113280, unfixed in 3.11: `SSLContext.wrap_socket` on a TCP connection the peer has
# already reset raises ConnectionResetError without closing the SSLSocket it built around the
# descriptor. The socket sits in a reference cycle (the exception's frame) and the collector
# frees it later, warning "unclosed" in whatever test runs then. The fault tier meets it when it
# kills the API server while its clients connect. Such a socket has no peer address, so this
# pattern matches it and not a socket leaked while connected, whose warning shows its raddr.
SSL_RESET_BEFORE_HANDSHAKE = (
    r"unclosed <ssl\.SSLSocket fd=\d+, family=\d+, type=\d+, proto=\d+, laddr=\('127\.0\.0\.1', \d+\)>$"
)
