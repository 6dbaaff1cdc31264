"""`cps1 gateway-keygen` makes the gateway's host key too, in the form the gateway reads, so the
gateway needs no right to create Secrets."""

from cps1 import keygen
from gateway import keys


def test_the_keygen_host_key_is_what_the_gateway_loads() -> None:
    data = keygen.host_key_data()
    assert set(data) == {keys.HOST_KEY}
    assert keys.load_private_key(data[keys.HOST_KEY]).get_name() == "ssh-ed25519"
    assert keygen.host_key_data() != data  # a fresh key each time: made once per installation
