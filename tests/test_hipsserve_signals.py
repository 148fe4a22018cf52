"""hipsserve stops cleanly on SIGHUP as on SIGTERM: in-flight requests drain and the process exits 0 (no reload;
a supervisor restarts it with a new catalogue)."""

import re
import select
import signal
import subprocess
import time


def test_sighup_and_sigterm_drain_and_exit_zero(hipsserve_bin, tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "properties").write_text("creator_did = ivo://test/x\nhips_order = 3\nhips_tile_width = 64\n")
    for sig in (signal.SIGHUP, signal.SIGTERM):
        p = subprocess.Popen([str(hipsserve_bin), "--root", str(tmp_path), "--listen", "127.0.0.1:0",
                              "--no-access-log"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 20
            while True:
                assert p.poll() is None, p.stderr.read()
                assert time.monotonic() < deadline, "no listening line"
                ready, _, _ = select.select([p.stdout], [], [], 0.5)
                if ready and re.search(r"http://\d+\.\d+\.\d+\.\d+:\d+", p.stdout.readline()):
                    break
            p.send_signal(sig)
            assert p.wait(timeout=15) == 0, (sig, p.stderr.read()[-2000:])
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
