"""moto's S3 server with one request handled at a time.

moto checks a put's `If-None-Match: *` and stores the object in two steps
with no lock between them, and its server answers each connection on a
thread of its own: two writers putting the same Delta log entry at once can
both be told they created it. Real S3 (and MinIO) decide a conditional put
atomically, which is what our commit protocol relies on. Serialising the
requests gives the tests that atomicity and keeps HTTP keep-alive.

Usage: python moto_s3.py HOST PORT
"""

import os
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


class Serial:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            # The body is read whole inside the lock: moto answers with bytes.
            result = self.app(environ, start_response)
            try:
                return list(result)
            finally:
                if hasattr(result, "close"):
                    result.close()


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, Serial(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
