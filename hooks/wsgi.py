"""WSGI entry point for gunicorn: `gunicorn -c common/gunicorn_conf.py hooks.wsgi:app`."""

from common import logging as cps1_logging
from hooks.app import create_app

cps1_logging.configure()
app = create_app()
