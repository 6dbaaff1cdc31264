"""Template maxima: the largest home volume and the longest idle timeout a Workspace may ask for."""

from common import policy

TEMPLATE = {"storage": {"size": "10Gi", "maxSize": "50Gi"}, "idleTimeoutSeconds": 3600, "maxIdleTimeoutSeconds": 86400}


def test_within_the_template_maxima_nothing_is_wrong() -> None:
    assert policy.template_limit_problems({"storage": {"size": "50Gi"}, "idleTimeoutSeconds": 600}, TEMPLATE) == {}
    assert policy.template_limit_problems({}, TEMPLATE) == {}
    assert policy.template_limit_problems({"storage": {"size": "999999Ei"}, "idleTimeoutSeconds": 0}, {}) == {}


def test_over_the_template_maxima_reads_as_what_was_refused() -> None:
    problems = policy.template_limit_problems({"storage": {"size": "999999Ei"}, "idleTimeoutSeconds": 0}, TEMPLATE)
    assert problems == {
        "storage.size": "storage size: '999999Ei' is out of range",
        "idleTimeoutSeconds": "this template stops idle Workspaces after at most 86400 seconds; "
        "0 (never) is not allowed",
    }
    too_big = policy.template_limit_problems({"storage": {"size": "51Gi"}, "idleTimeoutSeconds": 86401}, TEMPLATE)
    assert too_big == {
        "storage.size": "storage size 51Gi is above this template's maximum of 50Gi",
        "idleTimeoutSeconds": "idleTimeoutSeconds 86401 is above this template's maximum of 86400",
    }


def test_templates_restricted_to_users_or_groups() -> None:
    restricted = {"access": {"users": ["alice"], "groups": ["data-team"]}}
    assert policy.template_allows(restricted, "alice", [])
    assert policy.template_allows(restricted, "bob", ["data-team"])
    assert not policy.template_allows(restricted, "carol", ["web-team"])
    assert policy.template_allows({}, "carol", [])
    assert policy.template_allows({"access": {"users": [], "groups": []}}, "carol", [])
