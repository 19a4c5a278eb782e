"""Shared by the local servers (moto_server.py, local_issuer.py): run until SIGTERM/SIGINT or
until the process that started them (`--parent-pid`) is gone, so a killed test run or
`make dev` never leaves a server behind."""
import os
import signal
import time


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait(parent_pid: int = 0, poll_secs: float = 0.5) -> None:
    """Blocks until a stop signal arrives or `parent_pid` (0 = none) exits."""
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    while not stop["now"]:
        if parent_pid and not alive(parent_pid):
            return
        time.sleep(poll_secs)
