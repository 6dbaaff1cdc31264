"""Where the client's credentials come from, and the client built on them."""

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from kubernetes import config, dynamic
from kubernetes.client import ApiClient, Configuration

# The client's default pool is 5 connections per CPU; past it, every concurrent call (the
# gateway's SSH threads) opens and drops a new TLS connection to the API server.
API_CONNECTIONS = 32


def configuration(kubeconfig: Path | str = "") -> Configuration:
    """The kubeconfig named, else in-cluster credentials inside a pod, else $KUBECONFIG or
    ~/.kube/config."""
    conf = Configuration()
    conf.connection_pool_maxsize = API_CONNECTIONS
    if kubeconfig:
        config.load_kube_config(config_file=str(kubeconfig), client_configuration=conf)
    elif "KUBERNETES_SERVICE_HOST" in os.environ:
        config.load_incluster_config(client_configuration=conf)
    else:
        config.load_kube_config(client_configuration=conf)
    return conf


def dynamic_client(kubeconfig: Path | str = "") -> dynamic.DynamicClient:
    return dynamic.DynamicClient(ApiClient(configuration=configuration(kubeconfig)))


@contextlib.contextmanager
def connected(kubeconfig: Path | str = "") -> Iterator[dynamic.DynamicClient]:
    """A client for a few calls, its TLS connections closed on leaving. A dropped client is freed
    only by the cycle collector, at any later moment, and its open sockets then warn
    ("unclosed <ssl.SSLSocket>") in whatever code happens to run; the tests make that an error."""
    client = dynamic_client(kubeconfig)
    try:
        yield client
    finally:
        client.client.close()
