#!/usr/bin/env python3
"""Run moto server on 127.0.0.1 and exit when the process that started it goes away.

Prints `MOTO_ENDPOINT=http://127.0.0.1:<port>` once it accepts requests (port 0 = pick a
free port). With --parent-pid, a watchdog stops the server when that process exits, so a
test run that is killed never leaves moto behind.

Usage: moto_server.py [--port N] [--parent-pid PID]
"""
import argparse
import os
import signal
import sys
import time

from moto.moto_server.threaded_moto_server import ThreadedMotoServer


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

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(f"MOTO_ENDPOINT=http://{host}:{port}", flush=True)

    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    while not stop["now"]:
        if args.parent_pid and not alive(args.parent_pid):
            break
        time.sleep(0.5)
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
