"""Request and response schemas: they validate input (422 with the field on a mistake) and
generate the served OpenAPI document, so the document and the implementation agree."""

from apiflask import Schema
from apiflask.fields import Boolean, Dict, Integer, List, Nested, Raw, String
from apiflask.validators import Length, OneOf, Range, Regexp

from common import names

DNS_LABEL = Regexp(
    names.DNS_LABEL.pattern, error="lower-case letters, digits and '-', starting and ending alphanumeric"
)
QUANTITY = Regexp(r"^[0-9]+(\.[0-9]+)?([KMGTPE]i|[kMGTPE])?$", error="a storage size such as 10Gi")
LABEL_TEXT = Regexp(r"^[A-Za-z0-9][A-Za-z0-9 ._@:+/-]*$", error="letters, digits, spaces and . _ @ : + / -")
MAX_IDLE = 7 * 24 * 3600


class Storage(Schema):
    size = String(validate=QUANTITY, metadata={"description": "home volume size; may only grow"})
    onDelete = String(validate=OneOf(["Delete", "Retain"]))


class WorkspaceCreate(Schema):
    name = String(required=True, validate=[Length(1, names.MAX_WORKSPACE_NAME), DNS_LABEL])
    template = String(required=True, validate=[Length(1, 63), DNS_LABEL])
    parameters = Dict(keys=String(validate=Length(1, 63)), values=Raw(allow_none=False), load_default=dict)
    running = Boolean(load_default=True)
    sshAuthorizedKeys = List(String(validate=Length(1, 16384)), validate=Length(max=32))
    idleTimeoutSeconds = Integer(validate=Range(0, MAX_IDLE))
    storage = Nested(Storage)


class WorkspaceUpdate(Schema):
    parameters = Dict(keys=String(validate=Length(1, 63)), values=Raw(allow_none=False))
    running = Boolean()
    sshAuthorizedKeys = List(String(validate=Length(1, 16384)), validate=Length(max=32))
    idleTimeoutSeconds = Integer(validate=Range(0, MAX_IDLE))
    storage = Nested(Storage)


class KeepAlive(Schema):
    seconds = Integer(required=True, validate=Range(60, MAX_IDLE), metadata={"description": "from now"})


class Condition(Schema):
    type = String()
    status = String()
    reason = String()
    message = String()
    lastTransitionTime = String()
    observedGeneration = Integer()


class Workspace(Schema):
    name = String()
    owner = String()
    template = String()
    parameters = Dict()
    running = Boolean()
    sshAuthorizedKeys = List(String())
    idleTimeoutSeconds = Integer(allow_none=True)
    storage = Dict()
    phase = String()
    message = String()
    stoppedReason = String()
    conditions = List(Nested(Condition))
    ideURL = String()
    sshCommand = String()
    lastActivity = String()
    keepAliveUntil = String()
    updatePending = Boolean()
    createdAt = String()
    deleting = Boolean()


class WorkspaceItem(Workspace):
    """One element of a list (a schema of its own, so the document names each once)."""


class WorkspaceList(Schema):
    items = List(Nested(WorkspaceItem))


class WorkspaceFilter(Schema):
    owner = String(validate=DNS_LABEL)
    template = String(validate=DNS_LABEL)
    phase = String(validate=OneOf(["Pending", "Starting", "Running", "Stopping", "Stopped", "Failed", "Terminating"]))


class Event(Schema):
    type = String()
    reason = String()
    message = String()
    object = String()
    count = Integer()
    time = String(allow_none=True)


class EventList(Schema):
    items = List(Nested(Event))


class IdePassword(Schema):
    password = String(metadata={"description": "code-server's sign-in password for this Workspace"})


class TemplateIn(Schema):
    name = String(required=True, validate=[Length(1, 63), DNS_LABEL])
    spec = Dict(required=True, metadata={"description": "a WorkspaceTemplate spec (see crds/)"})


class TemplateUpdate(Schema):
    spec = Dict(required=True)


class Template(Schema):
    name = String()
    displayName = String()
    description = String()
    image = String()
    resources = Dict()
    storage = Dict()
    idleTimeoutSeconds = Integer(allow_none=True)
    parameters = List(Dict(), metadata={"description": "typed parameters: the console renders them as a form"})
    spec = Dict()
    usage = Integer(metadata={"description": "Workspaces made from it (admins only)"})


class TemplateItem(Template):
    """One element of a list (a schema of its own, so the document names each once)."""


class TemplateList(Schema):
    items = List(Nested(TemplateItem))


class Validation(Schema):
    valid = Boolean()


class KeyIn(Schema):
    key = String(required=True, validate=Length(1, 16384))
    name = String(validate=[Length(1, 63), LABEL_TEXT])


class Key(Schema):
    name = String()
    key = String()
    fingerprint = String()
    added = String()


class KeyItem(Key):
    """One element of a list (a schema of its own, so the document names each once)."""


class KeyList(Schema):
    items = List(Nested(KeyItem))


class TokenIn(Schema):
    name = String(required=True, validate=[Length(1, 63), LABEL_TEXT])
    expiresInDays = Integer(validate=Range(1, 365))


class Token(Schema):
    id = String()
    name = String()
    created = String()
    expires = String()


class TokenCreated(Token):
    token = String(metadata={"description": "shown once; only its hash is kept"})


class TokenList(Schema):
    items = List(Nested(Token))


class User(Schema):
    name = String()
    admin = Boolean()
    keys = Integer()
    disabled = Boolean()
    limits = Dict(metadata={"description": "limits an admin set for this user; the installation's apply otherwise"})
    groups = List(String(), metadata={"description": "for templates restricted to groups"})


class UserIn(Schema):
    name = String(required=True, validate=[Length(1, 63), DNS_LABEL])
    admin = Boolean(load_default=False)


class UserLimits(Schema):
    workspaces = Integer(validate=Range(0, 1000), metadata={"description": "Workspaces in total; 0: no limit"})
    running = Integer(validate=Range(0, 1000), metadata={"description": "Workspaces running at once; 0: no limit"})


class UserUpdate(Schema):
    admin = Boolean()
    disabled = Boolean(metadata={"description": "no API access and no SSH; running Workspaces keep running"})
    limits = Nested(UserLimits, metadata={"description": "this user's own limits instead of the installation's"})
    groups = List(String(validate=[Length(1, 63), DNS_LABEL]), validate=Length(max=64))


class UserList(Schema):
    items = List(Nested(User))
