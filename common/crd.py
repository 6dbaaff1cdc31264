"""The CPS1 API group, its kinds, and the annotation and label keys that travel on them."""

GROUP = "cps1.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

WORKSPACE_KIND = "Workspace"
TEMPLATE_KIND = "WorkspaceTemplate"
TEMPLATE_PLURAL = "workspacetemplates"

# Activity is written by the gateway and the api; the idle policy in the sync hook reads it.
ANNOTATION_LAST_ACTIVITY = f"{GROUP}/last-activity"
ANNOTATION_LAST_ACTIVITY_SOURCE = f"{GROUP}/last-activity-source"
# A keep-alive (RFC 3339 time) lets a long job outlive the idle timeout.
ANNOTATION_KEEP_ALIVE_UNTIL = f"{GROUP}/keep-alive-until"
# Set on a Workspace's Ingress: the URL the ingress controller asks before each request
# (Caddy's forward_auth in cps1/localcluster/ingress.py; ingress-nginx's auth-url equivalent).
ANNOTATION_FORWARD_AUTH_URL = f"{GROUP}/forward-auth-url"
# Set on the Deployment: which template revision its pod template was rendered from.
ANNOTATION_TEMPLATE_HASH = f"{GROUP}/template-hash"

# Phases, in the order a Workspace normally goes through them.
PHASE_PENDING = "Pending"
PHASE_STARTING = "Starting"
PHASE_RUNNING = "Running"
PHASE_STOPPING = "Stopping"
PHASE_STOPPED = "Stopped"
PHASE_FAILED = "Failed"
PHASE_TERMINATING = "Terminating"

# Why a Workspace is not running.
STOPPED_BY_USER = "User"
STOPPED_BY_IDLE = "Idle"
