"""The simulator `pavedroad up` starts goes away with it, however `up` ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.support.servers import free_port


def test_sim_exits_when_its_parent_is_killed() -> None:
    # A stand-in for `up`: a process that starts the sim the way `up` does, then waits.
    port = free_port()
    launcher = subprocess.Popen([sys.executable, "-c", (
        "import os, subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-m', 'pavedroad', 'sim', '--port', '{port}',"
        " '--parent', str(os.getpid())], stdout=subprocess.DEVNULL)\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    assert launcher.stdout is not None
    sim_pid = int(launcher.stdout.readline())
    time.sleep(1.0)  # let the sim get going
    os.kill(sim_pid, 0)  # alive
    launcher.send_signal(signal.SIGKILL)  # no `finally`, no atexit: only the kernel knows
    launcher.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(sim_pid, 0)
        except ProcessLookupError:
            return
        # A zombie still answers kill(0): reap it if it is ours (it is not: it is orphaned
        # to init), so look at its state instead.
        try:
            with open(f"/proc/{sim_pid}/stat") as stat:
                if stat.read().split()[2] == "Z":
                    return
        except FileNotFoundError:
            return
        time.sleep(0.1)
    os.kill(sim_pid, signal.SIGKILL)
    raise AssertionError("the simulator outlived its parent")
