"""Per-user limits: a count of Workspaces and of running ones, with readable refusals."""

import json

from api import limits

DEFAULT = limits.Limits(workspaces=3, running=2)


def ws(name: str, owner: str = "alice", running: bool = True, phase: str = "Running", deleting: bool = False) -> dict:
    meta: dict = {"name": name}
    if deleting:
        meta["deletionTimestamp"] = "2026-11-22T12:00:00Z"
    return {"metadata": meta, "spec": {"owner": owner, "running": running}, "status": {"phase": phase}}


def test_the_running_limit_names_the_user_and_the_counts() -> None:
    existing = [ws("a"), ws("b"), ws("c", running=False, phase="Stopped"), ws("z", owner="bob")]
    assert (
        limits.start_problem("alice", existing, DEFAULT, "c") == "alice already runs 2 of 2 Workspaces; stop one first"
    )
    assert limits.start_problem("alice", existing, DEFAULT, "a") is None  # restarting a running one
    assert limits.start_problem("bob", existing, DEFAULT, "y") is None


def test_idle_stopped_and_deleting_workspaces_do_not_count() -> None:
    existing = [ws("a", phase="Stopped"), ws("b", deleting=True)]
    assert limits.create_problem("alice", existing, DEFAULT, running=True) is None


def test_the_total_limit_comes_first() -> None:
    existing = [ws("a", running=False, phase="Stopped") for _ in range(3)]
    assert limits.create_problem("alice", existing, DEFAULT, running=False) == (
        "alice already has 3 of 3 Workspaces; delete one first"
    )


def test_an_admins_limits_for_a_user_replace_the_default_and_zero_is_unlimited() -> None:
    configmap = {"data": {"limits.json": json.dumps({"running": 0, "workspaces": "many"})}}
    own = limits.limits_of(configmap, DEFAULT)
    assert own == limits.Limits(workspaces=3, running=0)
    assert limits.start_problem("alice", [ws(str(i)) for i in range(50)], own, "new") is None
    assert limits.limits_of({"data": {"limits.json": "not json"}}, DEFAULT) == DEFAULT
