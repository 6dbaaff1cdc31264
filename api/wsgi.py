"""WSGI entry point: `gunicorn -c common/gunicorn_conf.py api.wsgi:app`."""

from api.app import create_app
from common import logging as cps1_logging

cps1_logging.configure()
app = create_app()
