"""The API server as pods see it: a TCP relay on the node address to the API server on loopback.

The local API server listens on 127.0.0.1 only, which a pod's network namespace cannot reach.
This relay listens on the real node's bridge address (10.244.0.1, never one of the machine's
own interfaces), and the `kubernetes` Service's EndpointSlice names it, so kube-proxy sends
pods' 10.96.0.1:443 here. TLS passes through untouched: the API server's certificate names
10.96.0.1 and kubernetes.default.svc, and pods verify it with the cluster's root CA.

    python -m cps1.localcluster.apiserver_relay LISTEN_HOST LISTEN_PORT TARGET_PORT
"""

import asyncio
import json
import sys
import time

from cps1.localcluster.processes import LOOPBACK


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _relay(target_port: int, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
    try:
        server_r, server_w = await asyncio.open_connection(LOOPBACK, target_port)
    except OSError:
        client_w.close()
        return
    await asyncio.gather(_pipe(client_r, server_w), _pipe(server_r, client_w))


async def serve(host: str, port: int, target_port: int) -> None:
    server = await asyncio.start_server(lambda r, w: _relay(target_port, r, w), host, port)
    line = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "level": "INFO", "logger": "apiserver-relay"}
    print(json.dumps({**line, "msg": "listening", "listen": f"{host}:{port}", "target": f"{LOOPBACK}:{target_port}"}))
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
