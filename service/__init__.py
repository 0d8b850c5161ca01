"""serve.py's web service: the recognizer behind a URL (REST and a live page for a browser's camera)."""
