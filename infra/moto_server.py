#!/usr/bin/env python3
"""Run moto server on 127.0.0.1 and exit when the process that started it goes away.

Prints `MOTO_ENDPOINT=http://127.0.0.1:<port>` once it accepts requests (port 0 = pick a
free port). With --parent-pid, a watchdog stops the server when that process exits, so a
test run that is killed never leaves moto behind.

Requests are processed one at a time. moto's DynamoDB model is not thread-safe: two
concurrent conditional writes or transactions can both pass their conditions before either
writes, which real DynamoDB never allows (each conditional write and transaction is atomic).
Serialising requests gives moto the same guarantee, so our concurrency tests exercise our
code's races, not moto's. Connections are still accepted concurrently.

Usage: moto_server.py [--port N] [--parent-pid PID]
"""
import argparse
import os
import signal
import sys
import time

import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server


def serialised(app):
    """WSGI wrapper: one request inside moto at a time (see module doc)."""
    lock = threading.Lock()

    def wrapped(environ, start_response):
        with lock:
            result = app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        return [body]

    return wrapped


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--parent-pid", type=int, default=0)
    args = parser.parse_args()

    app = serialised(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", args.port, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    print(f"MOTO_ENDPOINT=http://{host}:{port}", flush=True)

    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    while not stop["now"]:
        if args.parent_pid and not alive(args.parent_pid):
            break
        time.sleep(0.5)
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
