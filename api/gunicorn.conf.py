"""gunicorn settings for the api service: `gunicorn -c api/gunicorn.conf.py`.
The shared settings (and their environment overrides) are in common/gunicorn_settings.py."""

from common.gunicorn_settings import (  # noqa: F401 (gunicorn reads these names from this module)
    accesslog,
    bind,
    child_exit,
    graceful_timeout,
    keepalive,
    logconfig_dict,
    max_requests,
    max_requests_jitter,
    on_starting,
    timeout,
    worker_class,
    workers,
)

wsgi_app = "api.wsgi:app"
