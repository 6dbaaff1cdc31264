"""Per-user limits: a count of Workspaces and of running ones, with readable refusals."""

import json

from common import workspace_limits as limits

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


TEMPLATES = {
    "go": {
        "metadata": {"name": "go"},
        "spec": {
            "resources": {"requests": {"cpu": "1", "memory": "2Gi"}},
            "storage": {"size": "10Gi"},
            "parameters": [{"name": "cores", "type": "quantity", "bindTo": "cpu", "default": "1"}],
        },
    }
}
CAPPED = limits.Limits(workspaces=0, running=0, cpu="4", memory="8Gi", storage="50Gi")


def spec(running: bool = True, **changes: object) -> dict:
    return {"owner": "alice", "template": "go", "running": running, **changes}


def test_cpu_counts_running_workspaces_and_the_message_reads_like_the_limit() -> None:
    existing = [ws("a"), ws("b"), ws("c", running=False, phase="Stopped")]
    for w in existing:
        w["spec"]["template"] = "go"
    assert limits.request_problem("alice", existing, TEMPLATES, CAPPED, "new", spec(parameters={"cores": "2"})) is None
    assert limits.request_problem("alice", existing, TEMPLATES, CAPPED, "new", spec(parameters={"cores": "3"})) == (
        "alice's Workspaces would request 5 CPU of alice's 4 CPU limit; stop one first"
    )
    # A stopped one costs no CPU, but starting it does.
    assert (
        limits.request_problem("alice", existing, TEMPLATES, CAPPED, "new", spec(False, parameters={"cores": "3"}))
        is None
    )
    assert (
        limits.request_problem("alice", existing, TEMPLATES, CAPPED, "c", spec(parameters={"cores": "3"})) is not None
    )


def test_storage_counts_every_workspace_even_a_stopped_one() -> None:
    existing = [ws("a", running=False, phase="Stopped"), ws("b", running=False, phase="Stopped")]
    for w in existing:
        w["spec"]["template"] = "go"
    big = spec(False, storage={"size": "15Gi"})
    assert limits.request_problem("alice", existing, TEMPLATES, CAPPED, "new", big) is None
    tight = limits.Limits(0, 0, storage="30Gi")
    assert limits.request_problem("alice", existing, TEMPLATES, tight, "new", big) == (
        "alice's Workspaces would request 35Gi storage of alice's 30Gi storage limit; delete one first"
    )


def test_only_what_a_change_asks_more_of_is_judged() -> None:
    """An admin lowering the limit below today's use does not block an edit that adds nothing."""
    existing = [ws("a"), ws("b")]
    for w in existing:
        w["spec"]["template"] = "go"
    tight = limits.Limits(0, 0, cpu="1")
    assert limits.request_problem("alice", existing, TEMPLATES, tight, "a", spec(idleTimeoutSeconds=600)) is None
    assert limits.request_problem("alice", existing, TEMPLATES, tight, "a", spec(parameters={"cores": "2"})) == (
        "alice's Workspaces would request 3 CPU of alice's 1 CPU limit; stop one first"
    )


def test_no_quantity_limit_and_unreadable_ones_fall_back() -> None:
    existing = [ws(str(i)) for i in range(20)]
    assert limits.request_problem("alice", existing, TEMPLATES, DEFAULT, "new", spec()) is None
    configmap = {"data": {"limits.json": json.dumps({"cpu": "lots", "memory": "16Gi", "storage": 5})}}
    assert limits.limits_of(configmap, CAPPED) == limits.Limits(0, 0, cpu="4", memory="16Gi", storage="50Gi")


def member(*groups: str, own: dict | None = None) -> dict:
    data = {"groups.json": json.dumps(list(groups))}
    if own is not None:
        data["limits.json"] = json.dumps(own)
    return {"data": data}


GROUPS = limits.parse_group_limits(
    json.dumps(
        {
            "developers": {"running": 4, "cpu": 8, "memory": "16Gi"},
            "leads": {"running": 6, "cpu": "12", "storage": ""},
            "contractors": {"workspaces": 1, "running": 1},
            "unbounded": {"running": 0, "memory": "0"},
        }
    )
)
BOUNDED = limits.Limits(workspaces=3, running=2, cpu="2", memory="4Gi", storage="20Gi")


def test_a_group_limit_replaces_the_default_for_its_members_up_or_down() -> None:
    assert limits.limits_of(member("developers"), BOUNDED, GROUPS) == limits.Limits(3, 4, "8", "16Gi", "20Gi")
    assert limits.limits_of(member("contractors"), BOUNDED, GROUPS) == limits.Limits(1, 1, "2", "4Gi", "20Gi")
    assert limits.limits_of(member("strangers"), BOUNDED, GROUPS) == BOUNDED
    assert limits.limits_of(member("developers"), BOUNDED) == BOUNDED  # no group limits configured


def test_of_several_groups_the_most_generous_value_wins_and_no_limit_beats_any() -> None:
    both = limits.limits_of(member("developers", "leads", "contractors"), BOUNDED, GROUPS)
    assert both == limits.Limits(workspaces=1, running=6, cpu="12", memory="16Gi", storage="")
    free = limits.limits_of(member("developers", "unbounded"), BOUNDED, GROUPS)
    assert (free.running, free.memory) == (0, "0")
    assert limits.start_problem("alice", [ws(str(i)) for i in range(9)], free, "new") is None


def test_a_users_own_limit_wins_over_their_groups() -> None:
    own = limits.limits_of(member("leads", own={"running": 1}), BOUNDED, GROUPS)
    assert (own.running, own.cpu) == (1, "12")
    assert limits.start_problem("alice", [ws("a")], own, "b") == "alice already runs 1 of 1 Workspaces; stop one first"


def test_group_limits_that_cannot_be_read_are_refused_with_the_group_named() -> None:
    for text, words in (
        ("[1]", "a JSON object"),
        ("{", "not JSON"),
        ('{"devs": 3}', "group 'devs'"),
        ('{"devs": {"running": -1}}', "running is a whole number"),
        ('{"devs": {"running": true}}', "running is a whole number"),
        ('{"devs": {"cpu": "lots"}}', "cpu is a quantity"),
        ('{"devs": {"gpus": 1}}', "unknown limit 'gpus'"),
    ):
        try:
            limits.parse_group_limits(text)
        except ValueError as err:
            assert words in str(err), (text, err)
        else:
            raise AssertionError(f"{text} was accepted")
    assert limits.parse_group_limits("") == {}
