"""`cps1-gateway` / `python -m gateway`: settings, JSON logs, keys, serve until SIGTERM."""

import logging
import signal
import sys
import threading

from common import logging as cps1_logging
from gateway import keys
from gateway.cluster import Cluster
from gateway.health import HealthServer
from gateway.server import Gateway
from gateway.settings import Settings

log = logging.getLogger("cps1.gateway")


def main(argv: list[str] | None = None) -> int:
    try:
        settings = Settings.from_env()
    except ValueError as err:
        print(f"cps1-gateway: {err}", file=sys.stderr)
        return 2
    cps1_logging.configure(settings.log_level)
    # Paramiko logs every channel at INFO; its warnings and errors are enough.
    logging.getLogger("paramiko").setLevel(logging.WARNING)
    kube = Cluster.connect(settings.kubeconfig, settings.system_namespace)
    host_key = keys.host_key(kube, settings.system_namespace, settings.host_key_secret, settings.host_key_file)
    upstream_key = keys.load_private_key_file(settings.upstream_key_file)
    gateway = Gateway(settings, kube, host_key, upstream_key)
    health = HealthServer(settings.health_listen, gateway.ready, gateway.metrics.registry)
    health.start()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    gateway.start()
    log.info(
        "cps1-gateway started",
        extra={
            "ssh": "{}:{}".format(*gateway.address),
            "health": "{}:{}".format(*health.address),
            "upstream_key": keys.public_line(upstream_key),
        },
    )
    stop.wait()
    log.info("cps1-gateway stopping")
    gateway.stop()
    health.stop()
    log.info("cps1-gateway stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
