"""Limits, the activity rate bound and settings: driven by fake clocks, no network."""

from datetime import UTC, datetime

import pytest

from common import crd
from gateway.activity import RETRY_SECONDS, ActivityRecorder
from gateway.cluster import activity_patch
from gateway.forwarding import CHUNK
from gateway.limits import (
    AuthFailures,
    ChannelBudget,
    ChannelRefused,
    ConnectionLimits,
    MaxStartups,
    Unauthenticated,
    Windows,
    source_of,
)
from gateway.settings import Settings, split_address

MIB = 1024 * 1024


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_connection_limits_total_and_per_user() -> None:
    limits = ConnectionLimits(total=2, per_user=1)
    assert limits.open() and limits.open() and not limits.open()
    limits.close()
    assert limits.open()
    assert limits.claim("alice") and not limits.claim("alice") and limits.claim("bob")
    limits.release("alice")
    assert limits.claim("alice")
    limits.release("alice")
    limits.release("alice")  # an extra release never goes negative
    assert limits.user_count("alice") == 0


def test_auth_failures_slide_and_stay_bounded() -> None:
    clock = Clock()
    failures = AuthFailures(limit=3, window_seconds=60, clock=clock, max_sources=2)
    for _ in range(3):
        assert not failures.blocked("10.0.0.1")
        failures.record("10.0.0.1")
    assert failures.blocked("10.0.0.1")
    assert not failures.blocked("10.0.0.2")
    clock.now += 59
    assert failures.blocked("10.0.0.1")
    clock.now += 1
    assert not failures.blocked("10.0.0.1")
    for source in ("a", "b", "c"):
        failures.record(source)
    assert len(failures._failures) == 2  # the oldest source was forgotten


class Writes:
    def __init__(self, fail: int = 0) -> None:
        self.calls: list[str] = []
        self.fail = fail

    def __call__(self, name: str, now: datetime) -> None:
        self.calls.append(name)
        if self.fail:
            self.fail -= 1
            raise RuntimeError("api server down")


def test_activity_is_written_at_most_once_per_interval_per_workspace() -> None:
    clock, writes = Clock(), Writes()
    recorder = ActivityRecorder(writes, interval=60, clock=clock)
    assert recorder.flush() == 0  # nothing open, nothing written
    for _ in range(5):  # five sessions on one workspace
        recorder.opened("api")
    recorder.opened("web")
    assert recorder.flush() == 2
    for _ in range(100):
        clock.now += 0.5
        recorder.flush()
    assert writes.calls == ["api", "web"]  # 50 s later: still nothing new
    clock.now += 10
    recorder.flush()
    assert writes.calls == ["api", "web", "api", "web"]
    for _ in range(5):
        recorder.closed("api")
    clock.now += 120
    recorder.flush()
    assert writes.calls[-1:] == ["web"]  # no session left on api: no more activity for it


def test_a_reopened_session_does_not_write_before_the_interval() -> None:
    clock, writes = Clock(), Writes()
    recorder = ActivityRecorder(writes, interval=60, clock=clock)
    recorder.opened("api")
    recorder.flush()
    recorder.closed("api")
    clock.now += 5
    recorder.opened("api")
    recorder.flush()
    assert writes.calls == ["api"]
    recorder.written("api")  # a start wrote activity: the interval restarts
    clock.now += 59
    recorder.flush()
    assert writes.calls == ["api"]


def test_a_failed_write_is_retried_soon() -> None:
    clock, writes = Clock(), Writes(fail=1)
    results: list[bool] = []
    recorder = ActivityRecorder(writes, interval=60, clock=clock, on_result=results.append)
    recorder.opened("api")
    assert recorder.flush() == 0
    clock.now += RETRY_SECONDS - 0.1
    recorder.flush()
    assert len(writes.calls) == 1
    clock.now += 0.2
    assert recorder.flush() == 1
    assert results == [False, True]


def test_activity_patch() -> None:
    now = datetime(2026, 11, 22, 12, 0, 5, tzinfo=UTC)
    assert activity_patch(now, start=False) == {
        "metadata": {
            "annotations": {
                crd.ANNOTATION_LAST_ACTIVITY: "2026-11-22T12:00:05Z",
                crd.ANNOTATION_LAST_ACTIVITY_SOURCE: "ssh",
            }
        }
    }
    assert activity_patch(now, start=True)["spec"] == {"running": True}


def test_settings_from_env() -> None:
    settings = Settings.from_env(
        environ={
            "CPS1_GATEWAY_LISTEN": "0.0.0.0:22",
            "CPS1_GATEWAY_MAX_CONNECTIONS": "5",
            "CPS1_GATEWAY_VERIFY_UPSTREAM_HOST_KEY": "false",
            "CPS1_GATEWAY_CIPHERS": "aes128-gcm@openssh.com, aes128-ctr",
            "CPS1_GATEWAY_IDLE_TIMEOUT_SECONDS": "0",
            "KUBECONFIG": "/k",
        }
    )
    assert settings.listen == "0.0.0.0:22" and settings.max_connections == 5
    assert settings.verify_upstream_host_key is False
    assert settings.ciphers == ("aes128-gcm@openssh.com", "aes128-ctr")
    assert settings.idle_timeout_seconds == 0.0 and settings.kubeconfig == "/k"
    assert Settings().upstream_address("api") == ("workspace.ws-api.svc", 22)
    assert Settings(upstream="127.0.0.1:2200").upstream_address("api") == ("127.0.0.1", 2200)
    templated = Settings(upstream="{workspace}.{namespace}.example:2222")
    assert templated.upstream_address("api") == ("api.ws-api.example", 2222)
    by_ip = Settings(upstream="{service_ip}:22")
    assert by_ip.upstream_address("api", service_ip=lambda ns: {"ws-api": "10.96.3.4"}[ns]) == ("10.96.3.4", 22)
    with pytest.raises(ValueError, match="no lookup"):
        by_ip.upstream_address("api")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CPS1_GATEWAY_MAX_CONNECTIONS", "many", "MAX_CONNECTIONS"),
        ("CPS1_GATEWAY_VERIFY_UPSTREAM_HOST_KEY", "maybe", "VERIFY_UPSTREAM_HOST_KEY"),
        ("CPS1_GATEWAY_LISTEN", "nowhere", "host:port"),
        ("CPS1_GATEWAY_UPSTREAM", "{pod}:22", "only {workspace}, {namespace} and {service_ip}"),
        ("CPS1_GATEWAY_MAX_CONNECTIONS_PER_USER", "0", "at least 1"),
    ],
)
def test_bad_settings(variable: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env(environ={variable: value})


def test_split_address() -> None:
    assert split_address("[::1]:2222") == ("::1", 2222)
    with pytest.raises(ValueError):
        split_address(":22")


@pytest.mark.parametrize(
    ("startups", "percent"),
    [(0, 0), (9, 0), (10, 30), (55, 65), (99, 99), (100, 100), (500, 100)],
)
def test_max_startups_refuses_like_sshd(startups: int, percent: int) -> None:
    """sshd's should_drop_connection for the default 10:30:100."""
    assert MaxStartups.parse("10:30:100").refuse_percent(startups) == percent


def test_max_startups_parsing() -> None:
    assert MaxStartups.parse("5") == MaxStartups(5, 100, 5)
    for bad in ("a:b:c", "10:30", "50:30:10", "10:130:100", "0:30:100"):
        with pytest.raises(ValueError, match="max_startups"):
            MaxStartups.parse(bad)


def test_unauthenticated_connections_per_source_and_random_early_drop() -> None:
    rolls = iter([99, 99, 0, 50, 49])
    limiter = Unauthenticated(MaxStartups(2, 50, 4), per_source=2, roll=lambda: next(rolls))
    assert limiter.admit("a") == "" and limiter.admit("a") == ""
    assert limiter.admit("a") == "startups-per-source"  # no roll spent
    assert limiter.admit("b") == "startups"  # 2 open: refused when the roll is under 50 (0)
    assert limiter.admit("b") == ""  # roll 50: admitted, now 3 open (refuse 75 %)
    assert limiter.admit("c") == "startups"  # roll 49
    limiter.done("a")
    limiter.done("a")
    limiter.done("a")  # an extra done never goes negative
    assert limiter.count == 1 and limiter._sources == {"b": 1}


@pytest.mark.parametrize(
    ("address", "source"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("not-an-address", "not-an-address"),
    ],
)
def test_sources_are_ipv4_addresses_and_ipv6_slash_64s(address: str, source: str) -> None:
    assert source_of(address) == source


def test_the_channel_budget_grants_full_then_small_windows_then_refuses() -> None:
    full, small = Windows(2 * MIB, 512 * 1024), Windows(32 * 1024, 32 * 1024)
    assert full.cost == 2306867 + CHUNK + 576716 + 2 * CHUNK  # windows plus a tenth, and pump chunks
    assert small.cost == 5 * 36044
    budget = ChannelBudget(4 * full.cost, per_user=1000, full=full, small=small, full_per_user=8)
    grants = [budget.reserve("alice") for _ in range(2)]
    assert grants == [full, full]  # half the budget holds two full channels
    smalls = []
    while True:
        try:
            smalls.append(budget.reserve("bob"))
        except ChannelRefused as err:
            assert "memory budget" in str(err)
            break
    assert set(smalls) == {small} and budget.reserved <= budget.budget
    assert len(smalls) == (budget.budget - 2 * full.cost) // small.cost
    budget.release("alice", full)
    assert budget.reserve("carol") == small  # half the budget is taken by small windows now
    budget.release("bob", small)
    budget.release("bob", small)
    assert budget.reserve("alice") == small


def test_a_user_gets_few_full_windows_and_a_bounded_number_of_channels() -> None:
    full, small = Windows(2 * MIB, 512 * 1024), Windows(32 * 1024, 32 * 1024)
    budget = ChannelBudget(1024 * MIB, per_user=10, full=full, small=small, full_per_user=8)
    grants = [budget.reserve("alice") for _ in range(10)]
    assert grants == [full] * 8 + [small, small]
    with pytest.raises(ChannelRefused, match="alice' already has 10 channels open"):
        budget.reserve("alice")
    assert budget.reserve("bob") == full
    for windows in grants:
        budget.release("alice", windows)
    assert budget.channels_of("alice") == 0 and budget.reserved == full.cost
