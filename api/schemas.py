"""Request and response schemas: they validate input (422 with the field on a mistake) and
generate the served OpenAPI document, so the document and the implementation agree."""

from apiflask import Schema
from apiflask.fields import Boolean, Dict, Integer, List, Nested, Raw, String
from apiflask.validators import Length, OneOf, Range, Regexp

from common import names, previews, usersecrets

DNS_LABEL = Regexp(
    names.DNS_LABEL.pattern, error="lower-case letters, digits and '-', starting and ending alphanumeric"
)
QUANTITY = Regexp(r"^[0-9]+(\.[0-9]+)?([KMGTPE]i|[kMGTPE])?$", error="a storage size such as 10Gi")
REQUEST = Regexp(r"^[0-9]+(\.[0-9]+)?(m|[KMGTPE]i|[kMGTPE])?$", error="a quantity such as 4, 500m or 16Gi")
LABEL_TEXT = Regexp(r"^[A-Za-z0-9][A-Za-z0-9 ._@:+/-]*$", error="letters, digits, spaces and . _ @ : + / -")
MAX_IDLE = 7 * 24 * 3600
SECRET_NAME = Regexp(usersecrets.NAME.pattern, error="letters, digits and '_', not starting with a digit")


def secret_names() -> List:
    """A Workspace's `secrets`: names of its owner's secrets it receives."""
    return List(String(validate=SECRET_NAME), validate=Length(max=usersecrets.MAX_SECRETS))


class Storage(Schema):
    size = String(validate=QUANTITY, metadata={"description": "home volume size; may only grow"})
    onDelete = String(validate=OneOf(["Delete", "Retain"]))


class PortSpec(Schema):
    port = Integer(required=True, validate=Range(1024, 65535))
    name = String(validate=[Length(1, 32), DNS_LABEL])
    share = String(load_default="owner", validate=OneOf(list(previews.SHARE_LEVELS)))
    protocol = String(load_default="http", validate=OneOf(["http"]))


class PortStatus(Schema):
    port = Integer()
    name = String()
    share = String(metadata={"description": "the level it is served at (the template may cap it)"})
    url = String()


PORTS = List(Nested(PortSpec), validate=Length(max=16), metadata={"description": "web apps to publish"})


class WorkspaceCreate(Schema):
    name = String(required=True, validate=[Length(1, names.MAX_WORKSPACE_NAME), DNS_LABEL])
    template = String(required=True, validate=[Length(1, 63), DNS_LABEL])
    parameters = Dict(keys=String(validate=Length(1, 63)), values=Raw(allow_none=False), load_default=dict)
    running = Boolean(load_default=True)
    sshAuthorizedKeys = List(String(validate=Length(1, 16384)), validate=Length(max=32))
    idleTimeoutSeconds = Integer(validate=Range(0, MAX_IDLE))
    secrets = secret_names()
    storage = Nested(Storage)
    ports = PORTS


class WorkspaceUpdate(Schema):
    parameters = Dict(keys=String(validate=Length(1, 63)), values=Raw(allow_none=False))
    running = Boolean()
    sshAuthorizedKeys = List(String(validate=Length(1, 16384)), validate=Length(max=32))
    idleTimeoutSeconds = Integer(validate=Range(0, MAX_IDLE))
    secrets = secret_names()
    storage = Nested(Storage)
    ports = PORTS


class PreviewGrantIn(Schema):
    url = String(required=True, validate=Length(1, 2048), metadata={"description": "a Workspace's IDE or port URL"})


class PreviewGrant(Schema):
    url = String(metadata={"description": "opens `url` signed in as the caller; valid one minute"})


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
    secrets = List(String(), metadata={"description": "names of the owner's secrets it receives"})
    idleTimeoutSeconds = Integer(allow_none=True)
    storage = Dict()
    phase = String()
    message = String()
    stoppedReason = String()
    conditions = List(Nested(Condition))
    ideURL = String()
    sshCommand = String()
    ports = List(Nested(PortSpec), metadata={"description": "declared in spec"})
    previews = List(Nested(PortStatus), metadata={"description": "served, with their URLs"})
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
    effectiveLimits = Dict(
        metadata={"description": "the limits that apply: the user's own, else their groups', else the installation's"}
    )
    groups = List(String(), metadata={"description": "for templates restricted to groups"})


class UserIn(Schema):
    name = String(required=True, validate=[Length(1, 63), DNS_LABEL])
    admin = Boolean(load_default=False)


class UserLimits(Schema):
    workspaces = Integer(validate=Range(0, 1000), metadata={"description": "Workspaces in total; 0: no limit"})
    running = Integer(validate=Range(0, 1000), metadata={"description": "Workspaces running at once; 0: no limit"})
    cpu = String(validate=REQUEST, metadata={"description": "CPU all running Workspaces may request; 0: no limit"})
    memory = String(
        validate=REQUEST, metadata={"description": "memory all running Workspaces may request; 0: no limit"}
    )
    storage = String(validate=REQUEST, metadata={"description": "home volumes of all Workspaces; 0: no limit"})


class UserUpdate(Schema):
    admin = Boolean()
    disabled = Boolean(metadata={"description": "no API access and no SSH; running Workspaces keep running"})
    limits = Nested(UserLimits, metadata={"description": "this user's own limits instead of the installation's"})
    groups = List(String(validate=[Length(1, 63), DNS_LABEL]), validate=Length(max=64))


class UserList(Schema):
    items = List(Nested(User))


class SecretIn(Schema):
    kind = String(required=True, validate=OneOf(list(usersecrets.KINDS)))
    value = String(
        required=True, validate=Length(1, usersecrets.MAX_VALUE_BYTES), metadata={"description": "write-only"}
    )
    host = String(validate=Length(1, 260), metadata={"description": "git-credential: the Git host, e.g. github.com"})
    username = String(validate=[Length(1, 63), LABEL_TEXT], metadata={"description": "git-credential: user name"})


class Secret(Schema):
    name = String()
    kind = String()
    created = String()
    lastUsed = String()
    host = String()


class SecretItem(Secret):
    """One element of a list."""


class SecretList(Schema):
    items = List(Nested(SecretItem))


class Profile(Schema):
    gitName = String(validate=Length(0, 200))
    gitEmail = String(validate=Length(0, 254))
    dotfiles = String(
        validate=Regexp(r"^$|^(https|ssh|git)://[^\s]+$|^git@[^\s:]+:[^\s]+$", error="a Git URL (https://...)"),
        metadata={"description": "Git repository applied at each Workspace's first start"},
    )


class OidcConfig(Schema):
    enabled = Boolean(required=True)
    provider = String(metadata={"description": "what the sign-in button calls the identity provider"})
    issuer = String()
    loginUrl = String()
    logoutUrl = String()
    cliClientId = String(metadata={"description": "the public client for the device authorization grant"})
    scopes = String()


class IdTokenIn(Schema):
    idToken = String(required=True, validate=Length(1, 16384), metadata={"description": "from the device sign-in"})


class OidcSession(Schema):
    user = String()
    token = String(metadata={"description": "a CPS1 session token (Bearer), shown once"})
    expires = String()
