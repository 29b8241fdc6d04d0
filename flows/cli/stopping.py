"""Stopping a command (SIGTERM, Ctrl-C, a closed terminal) stops the temporary Prefect server it
started, within a few seconds, whatever the command is busy with.

Without `PREFECT_API_URL`, Prefect starts a temporary API server as a child process
(`SubprocessASGIServer` in prefect/server/api/server.py) and stops it from `atexit`. Python's
default SIGTERM ends a process without running `atexit`, so the server outlived its command and
kept its port. Here each stop signal raises `Stopped` (a `KeyboardInterrupt`) in the main
thread instead: the command says so in one line and exits through `atexit`.

That is not enough under load. While a flow runs, Prefect's own SIGTERM handler takes the
signal, and the flow ends only after its task threads return (an upload, a cut); exiting waits
for them too. So the signal also reaches a watcher thread through `signal.set_wakeup_fd`
(written by the interpreter whichever Python handler runs), and the watcher stops the
temporary server `GRACE_SECONDS` later, whatever the main thread is still doing. A second
signal to a command that has left its flows ends the process at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

GRACE_SECONDS = 3.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

_installed = threading.Event()
_stopping = threading.Event()


class Stopped(KeyboardInterrupt):
    """A stop signal arrived; the command ends with exit code 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def install_stop_handlers() -> None:
    """Route the stop signals to `Stopped`, and arm the watcher (once per process; only the
    main thread may set handlers)."""
    if threading.current_thread() is not threading.main_thread() or _installed.is_set():
        return
    _installed.set()
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    threading.Thread(target=_watch, args=(read_end,), name="stop-watcher", daemon=True).start()
    for signum in STOP_SIGNALS:
        signal.signal(signum, _on_stop_signal)


def _on_stop_signal(signum: int, _frame: object) -> None:
    if _stopping.is_set():  # asked again: no more waiting
        stop_temporary_server()
        os._exit(128 + signum)
    _stopping.set()
    raise Stopped(signum)


def _watch(read_end: int) -> None:
    """Wait for the first stop signal; stop the temporary server `GRACE_SECONDS` later."""
    while not set(os.read(read_end, 64)) & set(STOP_SIGNALS):
        pass
    time.sleep(GRACE_SECONDS)
    stop_temporary_server()


def stop_temporary_server() -> None:
    """End the temporary Prefect server this process started, if any (terminated, killed
    after 5 s as Prefect's own `stop` does). The server object stays registered as running,
    so that threads still reporting to it get errors instead of starting a new one."""
    module = sys.modules.get("prefect.server.api.server")
    if module is None:  # Prefect never imported: no server
        return
    process = module.SubprocessASGIServer().server_process  # no port: the temporary one
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
