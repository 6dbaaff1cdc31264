"""The baseline for the hooks benchmark: a minimal Flask endpoint that reads the same JSON
body and answers a fixed small JSON, under the same gunicorn settings."""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/sync")
def sync():
    body = request.get_json(force=True)
    return jsonify(children=[], status={"seen": bool(body)})


@app.get("/readyz")
def readyz():
    return jsonify(status="ready")
