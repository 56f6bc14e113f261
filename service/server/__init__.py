"""The server under the app: gunicorn's uvicorn worker and its HTTP protocol limits."""
