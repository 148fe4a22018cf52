"""Child processes of the tests: their output is always read (a full pipe would block the child), and they are stopped
the same way everywhere (SIGTERM, then SIGKILL after a grace period)."""

from __future__ import annotations

import collections
import subprocess
import threading


class Tail:
    """Reads a child's stream on a thread until it closes, keeping the last ``lines`` lines (for error messages)."""

    def __init__(self, stream, lines: int = 400):
        self._lines: collections.deque = collections.deque(maxlen=lines)
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self._lines.append(line if isinstance(line, str) else line.decode(errors="replace"))

    def text(self) -> str:
        """What was kept so far."""
        return "".join(self._lines)


def stop(proc: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGTERM, wait up to ``grace_s``, then SIGKILL."""
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
