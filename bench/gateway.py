"""The SSH gateway against a direct OpenSSH connection to the same sshd, in the same run.

    .venv/bin/python -m bench.gateway [--size-mib 512] [--runs 3] [--logins 20]
        [--sessions 100] [--session-mib 16] [--storms 1] [--idle-sessions 0] [--probes 10]
        [--configs stock,tuned,...] [--concurrent-configs ...]

Starts a local control plane with the hooks, one Workspace, a real sshd on 127.0.0.1 from the
Workspace's Secret, and the gateway as `python -m gateway` (one process per configuration, so
its CPU and memory are read from /proc). Measured with the OpenSSH client:

- login latency: `ssh ... true`, median of --logins;
- upload `head -c N /dev/zero | ssh ... 'cat >/dev/null'` and download `ssh ... 'head -c N
  /dev/zero' >/dev/null`, median of --runs, with the gateway's CPU seconds per GiB;
  (--runs 0 --logins 0 skips these);
- --storms login storms: --sessions concurrent downloads of --session-mib each, straight to the
  sshd (with OpenSSH's defaults, and with the algorithms the gateway's client hop negotiates)
  and through each --concurrent-configs gateway in turn (the order alternates between
  storms; the sshd's sessions start from a clean home each time): aggregate MB/s, first-byte
  p50/p95 (the login), gateway CPU and peak memory, and the ratios to direct per storm;
- --idle-sessions held open on the first of those gateways (stdin open, as a shell): its RSS and
  threads, and a new login's latency (median of --probes) against the same gateway idle.

Configurations: `stock` is Paramiko's defaults (its cipher list, so OpenSSH picks aes128-ctr +
hmac-sha2-256-etm; rekey every 2^29 bytes; 2 MiB windows on both hops); `tuned` is the gateway's
defaults (AES-GCM only, rekey every 2^32 bytes, 512 KiB window towards the Workspace);
`tuned-window-8m`, `tuned-packet-256k` and `tuned-upstream-window-2m` vary one setting each.
Every process listens on 127.0.0.1; the client, sshd and gateway share the machine's cores, so
compare numbers within one run only.
"""

import argparse
import base64
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import kubeclient as kube
from bench.common import exit_on_sigterm, serve_cps1, workspace
from cps1.localcluster.cluster import LocalCluster
from cps1.localcluster.processes import Process, free_port, http_ok
from gateway import keys
from tests.constants import GATEWAY_KEY, GATEWAY_PRIVATE_KEY
from tests.support import gateway as gs
from tests.support.cluster import Env

API = "cps1.io/v1alpha1"
NS = "cps1-bench"
WORKSPACE = "bench-ws"
CONFIGS: dict[str, dict[str, str]] = {
    "stock": {
        "CPS1_GATEWAY_CIPHERS": "",
        "CPS1_GATEWAY_REKEY_BYTES": "0",
        "CPS1_GATEWAY_UPSTREAM_WINDOW_SIZE": str(2 * 1024 * 1024),
    },
    "tuned": {},
    "tuned-window-8m": {"CPS1_GATEWAY_WINDOW_SIZE": str(8 * 1024 * 1024)},
    "tuned-packet-256k": {"CPS1_GATEWAY_MAX_PACKET_SIZE": str(256 * 1024)},
    "tuned-upstream-window-2m": {"CPS1_GATEWAY_UPSTREAM_WINDOW_SIZE": str(2 * 1024 * 1024)},
}
MB = 1e6
# What the gateway's client hop negotiates with OpenSSH (transport.ciphers_for, Paramiko's kex).
SAME = ["-o", "KexAlgorithms=curve25519-sha256", "-c", "aes128-gcm@openssh.com"]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class Target:
    """Where the OpenSSH client connects: the gateway, or the sshd directly."""

    def __init__(
        self, name: str, port: int, login: str, known: Path, key: Path, options: list[str], host: str = "127.0.0.1"
    ) -> None:
        self.name, self.port, self.login, self.known, self.key, self.options = name, port, login, known, key, options
        self.host = host

    def argv(self, *command: str) -> list[str]:
        return [
            *gs.ssh_base(self.key, self.known, *self.options),
            "-p",
            str(self.port),
            f"{self.login}@{self.host}",
            *command,
        ]


def login_latency(target: Target) -> float:
    began = time.perf_counter()
    subprocess.run(target.argv("true"), check=True, stdin=subprocess.DEVNULL, timeout=60)
    return time.perf_counter() - began


def transfer(target: Target, direction: str, size: int) -> float:
    began = time.perf_counter()
    if direction == "upload":
        producer = subprocess.Popen(["head", "-c", str(size), "/dev/zero"], stdout=subprocess.PIPE)
        subprocess.run(target.argv("cat > /dev/null"), stdin=producer.stdout, check=True, timeout=600)
        assert producer.stdout is not None
        producer.stdout.close()
        producer.wait()
    else:
        subprocess.run(
            target.argv(f"head -c {size} /dev/zero"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            check=True,
            timeout=600,
        )
    return time.perf_counter() - began


def interleaved(targets: list[Target], pids: dict[str, int], size: int, runs: int, logins: int) -> dict[str, dict]:
    """Every measurement round visits every target in turn, so a change in the machine's load
    (it is shared) touches all of them alike; medians over the rounds."""
    samples: dict[str, dict[str, list[float]]] = {t.name: {} for t in targets}

    def add(name: str, key: str, value: float) -> None:
        samples[name].setdefault(key, []).append(value)

    for target in targets:
        login_latency(target)  # warm-up
    for _ in range(logins):
        for target in targets:
            add(target.name, "login_s", login_latency(target))
    for _ in range(runs):
        for direction in ("upload", "download"):
            for target in targets:
                pid = pids.get(target.name)
                before = cpu_seconds(pid) if pid else 0.0
                wall = transfer(target, direction, size)
                add(target.name, f"{direction}_MBps", size / wall / MB)
                if pid:
                    add(
                        target.name,
                        f"{direction}_gateway_cpu_s_per_GiB",
                        (cpu_seconds(pid) - before) * (1 << 30) / size,
                    )
    return {name: {key: statistics.median(values) for key, values in keys.items()} for name, keys in samples.items()}


def percentile(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, len(ordered) * p // 100)]


def storm(target: Target, sessions: int, size: int, pid: int | None) -> dict[str, float]:
    """`sessions` downloads of `size` bytes started at once: aggregate MB/s, failures, and per
    session that got data the seconds from the start to its first byte (the login) and to its
    end; through a gateway, its CPU and peak memory."""
    before_cpu = cpu_seconds(pid) if pid else 0.0
    base_rss = memory_kib(pid, "VmRSS") if pid else 0
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while pid and not done.is_set():
            peak[0] = max(peak[0], memory_kib(pid, "VmRSS"))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    began = time.perf_counter()
    procs = [
        subprocess.Popen(target.argv(f"head -c {size} /dev/zero"), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        for _ in range(sessions)
    ]
    counts = [0] * sessions
    first = [0.0] * sessions
    ended = [0.0] * sessions

    def drain(i: int) -> None:
        stdout = procs[i].stdout
        assert isinstance(stdout, io.BufferedReader)
        while chunk := stdout.read1(1 << 16):
            if not counts[i]:
                first[i] = time.perf_counter() - began
            counts[i] += len(chunk)
        procs[i].wait(900)
        ended[i] = time.perf_counter() - began

    readers = [threading.Thread(target=drain, args=(i,), daemon=True) for i in range(sessions)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(900)
    received = sum(counts)
    wall = time.perf_counter() - began
    done.set()
    sampler.join()
    # Times of the sessions that got data: a refused one has no first byte (its 0 would pull
    # the percentiles down, flattering a target that drops logins).
    served = [i for i in range(sessions) if counts[i]] or list(range(sessions))
    first = [first[i] for i in served]
    ended = [ended[i] for i in served]
    result: dict[str, float] = {
        "sessions": sessions,
        "failed": sum(1 for p in procs if p.returncode != 0),
        "aggregate_MBps": received / wall / MB,
        "bytes_ok": received == sessions * size,
        "wall_s": wall,
        "login_p50_s": percentile(first, 50),
        "login_p95_s": percentile(first, 95),
        "session_p50_s": percentile(ended, 50),
        "session_p95_s": percentile(ended, 95),
    }
    if pid:
        cpu = cpu_seconds(pid) - before_cpu
        result.update(
            gateway_cpu_s=cpu,
            gateway_cpu_percent_of_one_core=100 * cpu / wall,
            gateway_rss_base_MiB=base_rss / 1024,
            gateway_rss_peak_MiB=peak[0] / 1024,
        )
    return result


def storms(
    targets: list[Target], pids: dict[str, int], count: int, sessions: int, size: int, home: Path | None
) -> list:
    """`count` storms, each visiting every target (direct first in odd storms, last in even
    ones, so a drift in the shared machine's load favours neither); a loopback sshd's sessions
    start from a clean `home` every time (tests/support/gateway.clean_home)."""
    rounds = []
    for i in range(count):
        row = {}
        for target in targets if i % 2 == 0 else targets[::-1]:
            if home is not None:
                gs.clean_home(home)
            print(f"storm {i + 1}/{count}: {sessions} sessions, {target.name}", file=sys.stderr, flush=True)
            row[target.name] = storm(target, sessions, size, pids.get(target.name))
        rounds.append(row)
    return rounds


def idle_sessions(target: Target, count: int, pid: int, probes: int, batch: int = 50) -> dict[str, float]:
    """The gateway's memory and threads with `count` idle sessions open (a shell's way: stdin
    open, nothing moving), opened `batch` at a time (within the sshd's MaxStartups), and a new
    login's latency (median of `probes` `ssh … true`) while they are open against before."""
    login_latency(target)  # warm-up
    before = statistics.median(login_latency(target) for _ in range(probes))
    base_rss, base_threads = memory_kib(pid, "VmRSS"), memory_kib(pid, "Threads")
    began = time.perf_counter()
    held: list[subprocess.Popen] = []
    failed = 0
    try:
        for start in range(0, count, batch):
            wave = [
                subprocess.Popen(
                    target.argv("echo ready; exec sleep 3600"), stdin=subprocess.PIPE, stdout=subprocess.PIPE
                )
                for _ in range(min(batch, count - start))
            ]
            for proc in wave:
                assert proc.stdout is not None
                if proc.stdout.readline() != b"ready\n":
                    failed += 1
            held.extend(wave)
        opened = time.perf_counter() - began
        time.sleep(2)
        rss, threads = memory_kib(pid, "VmRSS"), memory_kib(pid, "Threads")
        during = statistics.median(login_latency(target) for _ in range(probes))
    finally:
        for proc in held:
            proc.kill()
        for proc in held:
            proc.communicate()
    return {
        "sessions": count,
        "failed": failed,
        "open_s": opened,
        "gateway_rss_base_MiB": base_rss / 1024,
        "gateway_threads_base": base_threads,
        "gateway_rss_MiB": rss / 1024,
        "gateway_threads": threads,
        "threads_per_session": (threads - base_threads) / count,
        "login_idle_gateway_s": before,
        "login_with_sessions_open_s": during,
        "login_ratio": during / before,
    }


def storm_limits(connections: int) -> dict[str, str]:
    """The gateway's limits for a storm from one key and one address, which stand for many
    developers: per-user and per-source limits set as for that many users, unauthenticated
    connections as the loopback sshd's MaxStartups."""
    return {
        "CPS1_GATEWAY_MAX_CONNECTIONS": str(connections),
        "CPS1_GATEWAY_MAX_CONNECTIONS_PER_USER": str(connections),
        "CPS1_GATEWAY_MAX_CHANNELS_PER_USER": str(connections),
        "CPS1_GATEWAY_FULL_WINDOWS_PER_USER": "1000",
        "CPS1_GATEWAY_MAX_STARTUPS": "300:30:600",
        "CPS1_GATEWAY_MAX_STARTUPS_PER_SOURCE": "1000",
    }


def start_gateway(
    run_dir: Path, kubeconfig: Path, sshd: gs.Sshd, key_file: Path, name: str, connections: int
) -> tuple[Process, int]:
    port, health = free_port(), free_port()
    env = {
        "CPS1_GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "CPS1_GATEWAY_HEALTH_LISTEN": f"127.0.0.1:{health}",
        "CPS1_GATEWAY_KUBECONFIG": str(kubeconfig),
        "CPS1_GATEWAY_SYSTEM_NAMESPACE": NS,
        "CPS1_GATEWAY_HOST_KEY_SECRET": "bench-gateway-host-key",
        "CPS1_GATEWAY_UPSTREAM": f"127.0.0.1:{sshd.port}",
        "CPS1_GATEWAY_UPSTREAM_USER": gs.USER,
        "CPS1_GATEWAY_UPSTREAM_KEY_FILE": str(key_file),
        **storm_limits(connections),
        "CPS1_GATEWAY_LOG_LEVEL": "WARNING",
        **CONFIGS[name],
    }
    proc = Process(f"gateway-{name}", [sys.executable, "-m", "gateway"], run_dir / f"gateway-{name}.log", env)
    proc.ready = lambda: http_ok(f"http://127.0.0.1:{health}/readyz")
    proc.start()
    proc.wait_ready(30)
    return proc, port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--logins", type=int, default=20)
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--session-mib", type=int, default=16)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--concurrent-configs", default="stock,tuned,tuned-upstream-window-2m")
    parser.add_argument("--storms", type=int, default=1, help="login storms of --sessions each, per target")
    parser.add_argument("--idle-sessions", type=int, default=0, help="idle sessions held on the first gateway")
    parser.add_argument("--probes", type=int, default=10, help="logins timed with and without idle sessions")
    args = parser.parse_args()
    exit_on_sigterm()
    size = args.size_mib * 1024 * 1024
    run_dir = Path(tempfile.mkdtemp(prefix="cps1-bench-gateway-"))
    results: dict[str, Any] = {}
    with LocalCluster(run_dir, nodes=1) as cluster:
        client, _ = serve_cps1(cluster, 1, {"CPS1_HOOKS_GATEWAY_PUBLIC_KEY": GATEWAY_KEY})
        # The helpers read only `.client`; the benchmark has no whole Env.
        env = cast(Env, SimpleNamespace(client=client))
        key = gs.client_key(run_dir, "bench")
        gs.namespace(env, NS)
        gs.user_configmap(env, NS, "bench", [key.public])
        kube.apply(client, workspace(WORKSPACE))
        kube.wait_for(
            lambda: (
                ((kube.get(client, API, "Workspace", WORKSPACE) or {}).get("status") or {}).get("phase") == "Running"
            ),
            120,
            "the benchmark Workspace did not run",
        )
        sshd = gs.sshd_for(env, WORKSPACE, run_dir / "sshd", [key.public])
        key_file = run_dir / "gateway_key"
        key_file.write_text(GATEWAY_PRIVATE_KEY)
        key_file.chmod(0o600)
        host_pub = gs.workspace_secret(env, WORKSPACE)["ssh_host_ed25519_key.pub"].strip()
        direct_known = gs.known_hosts(run_dir / "known_direct", sshd.port, host_pub)
        gateways: dict[str, Process] = {}
        try:
            targets = [
                Target("direct-default", sshd.port, gs.USER, direct_known, key.path, []),
                Target(
                    "direct-aes128gcm", sshd.port, gs.USER, direct_known, key.path, ["-c", "aes128-gcm@openssh.com"]
                ),
            ]
            pids: dict[str, int] = {}
            for name in args.configs.split(","):
                connections = max(1000, args.sessions, args.idle_sessions + args.probes + 10)
                gateway, port = start_gateway(run_dir, cluster.kubeconfig, sshd, key_file, name, connections)
                gateways[name] = gateway
                secret = kube.get(client, "v1", "Secret", "bench-gateway-host-key", NS) or {}
                host_key = keys.load_private_key(base64.b64decode(secret["data"][keys.HOST_KEY]).decode())
                known = gs.known_hosts(run_dir / f"known_{name}", port, keys.public_line(host_key))
                targets.append(Target(f"gateway-{name}", port, WORKSPACE, known, key.path, []))
                assert gateway.pid is not None
                pids[f"gateway-{name}"] = gateway.pid
            if args.runs and args.logins:
                print("measuring logins and transfers, interleaved", file=sys.stderr, flush=True)
                results.update(interleaved(targets, pids, size, args.runs, args.logins))
            wanted = ["direct-default", *(f"gateway-{c}" for c in args.concurrent_configs.split(","))]
            chosen = [t for t in targets if t.name in wanted]
            # The storms' second baseline: direct with the algorithms of the gateway's client hop
            # (Paramiko has no post-quantum key exchange and no chacha20), so the ratio to it
            # shows the relay's own cost without OpenSSH's costlier sntrup761 key exchange.
            chosen.insert(1, Target("direct-gateway-algorithms", sshd.port, gs.USER, direct_known, key.path, SAME))
            if args.sessions and args.storms:
                session_size = args.session_mib * 1024 * 1024
                results["storms"] = storms(chosen, pids, args.storms, args.sessions, session_size, sshd.home)
            if args.idle_sessions:
                first = next(t for t in chosen if t.name in pids)
                gs.clean_home(sshd.home)
                print(f"holding {args.idle_sessions} idle sessions: {first.name}", file=sys.stderr, flush=True)
                results["idle"] = {first.name: idle_sessions(first, args.idle_sessions, pids[first.name], args.probes)}
        finally:
            for gateway in gateways.values():
                if gateway.popen is not None:
                    gateway.popen.send_signal(signal.SIGTERM)
                gateway.stop()
            sshd.stop()
    report(results, args)


def report(results: dict, args: argparse.Namespace) -> None:
    targets = {k: v for k, v in results.items() if k not in ("storms", "idle")}
    if targets:
        report_transfers(targets, args)
    report_storms(results.get("storms", []), args.sessions, args.session_mib)
    for name, c in results.get("idle", {}).items():
        print(
            f"\n{name}: {c['sessions']} idle sessions ({c['failed']} failed, opened in {c['open_s']:.0f}s): "
            f"RSS {c['gateway_rss_base_MiB']:.0f} -> {c['gateway_rss_MiB']:.0f} MiB, threads "
            f"{c['gateway_threads_base']} -> {c['gateway_threads']} ({c['threads_per_session']:.2f} per session); "
            f"a new login {1000 * c['login_with_sessions_open_s']:.0f} ms vs {1000 * c['login_idle_gateway_s']:.0f} ms "
            f"on an idle gateway ({c['login_ratio']:.2f}x)"
        )
    print("\n" + json.dumps(results, indent=1))


def report_storms(rounds: list[dict], sessions: int, session_mib: int) -> None:
    """Each storm's targets, and every gateway's ratios to every direct one."""
    for i, row in enumerate(rounds, 1):
        print(f"\nstorm {i}: {sessions} concurrent downloads of {session_mib} MiB")
        refs = [(name, c) for name, c in row.items() if name.startswith("direct-")]
        for name, c in row.items():
            line = (
                f"  {name:26} {c['aggregate_MBps']:6.1f} MB/s aggregate in {c['wall_s']:5.1f}s, {c['failed']} failed; "
                f"first byte p50/p95 {c['login_p50_s']:.2f}/{c['login_p95_s']:.2f}s"
            )
            if "gateway_cpu_s" in c:
                line += (
                    f"; gateway CPU {c['gateway_cpu_percent_of_one_core']:.0f}% of one core, RSS "
                    f"{c['gateway_rss_base_MiB']:.0f} -> {c['gateway_rss_peak_MiB']:.0f} MiB peak"
                )
            for ref_name, ref in refs if name.startswith("gateway-") else []:
                line += (
                    f"\n  {'':26} vs {ref_name}: aggregate {c['aggregate_MBps'] / ref['aggregate_MBps']:.2f}x, "
                    f"first byte p50 {c['login_p50_s'] / ref['login_p50_s']:.2f}x "
                    f"p95 {c['login_p95_s'] / ref['login_p95_s']:.2f}x"
                )
            print(line)


def report_transfers(results: dict[str, dict], args: argparse.Namespace) -> None:
    direct = results["direct-default"]
    same = results["direct-aes128gcm"]
    print(f"\n{args.size_mib} MiB transfers, median of {args.runs}; logins median of {args.logins}")
    print(f"{'path':28} {'login ms':>9} {'up MB/s':>9} {'down MB/s':>10} {'gw CPU s/GiB up/down':>22}")
    for name, r in results.items():
        cpu = ""
        if "upload_gateway_cpu_s_per_GiB" in r:
            cpu = f"{r['upload_gateway_cpu_s_per_GiB']:.2f} / {r['download_gateway_cpu_s_per_GiB']:.2f}"
        print(f"{name:28} {1000 * r['login_s']:9.0f} {r['upload_MBps']:9.0f} {r['download_MBps']:10.0f} {cpu:>22}")
    print("\nratios gateway / direct (upload, download, login time):")
    for name, r in results.items():
        if not name.startswith("gateway-"):
            continue
        for label, ref in (("OpenSSH default cipher", direct), ("same cipher, aes128-gcm", same)):
            print(
                f"  {name:26} vs {label:24} up {r['upload_MBps'] / ref['upload_MBps']:.2f}  "
                f"down {r['download_MBps'] / ref['download_MBps']:.2f}  login {r['login_s'] / ref['login_s']:.2f}"
            )


if __name__ == "__main__":
    main()
