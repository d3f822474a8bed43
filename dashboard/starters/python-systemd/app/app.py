"""A tiny WSGI app: replace it with yours. Served by gunicorn under systemd."""


def application(environ, start_response):
    body = b"ok\n" if environ.get("PATH_INFO") == "/healthz" else b"Hello from Fleetdeck\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
