"""A real single-node Slurm (Debian slurm-wlm + munge) started without systemd, idempotently, for tests that submit
jobs. The configuration follows ../shared/docs/build-notes.md; the node line comes from `slurmd -C` (this machine's
real CPUs and memory), so the node registers idle instead of drained.

`ensure_slurm()` returns once `sinfo` reports an idle node (polling, no fixed sleeps) and says whether it started
the daemons (then `stop_slurm()` stops them by their pid files at the end of the test module).
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

CONF = Path("/etc/slurm/slurm.conf")
PIDS = [Path("/run/slurm/slurmctld.pid"), Path("/run/slurm/slurmd.pid"), Path("/run/munge/munged.pid")]


def _conf() -> str:
    host = subprocess.run(["hostname", "-s"], capture_output=True, text=True, check=True).stdout.strip()
    node = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    node = node.replace(f"NodeName={host}", f"NodeName={host} NodeAddr=127.0.0.1") + " State=UNKNOWN"
    return "\n".join([
        "ClusterName=local", f"SlurmctldHost={host}(127.0.0.1)", "SlurmUser=slurm", "AuthType=auth/munge",
        "CredType=cred/munge", "StateSaveLocation=/var/spool/slurmctld", "SlurmdSpoolDir=/var/spool/slurmd",
        "SlurmctldPidFile=/run/slurm/slurmctld.pid", "SlurmdPidFile=/run/slurm/slurmd.pid",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_CPU", "SchedulerType=sched/backfill", "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none", "JobCompType=jobcomp/none", "MpiDefault=none",
        "ReturnToService=2", "MinJobAge=300", node,
        f"PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP", "",
    ])


def _alive(pidfile: Path) -> bool:
    try:
        os.kill(int(pidfile.read_text().strip()), 0)
        return True
    except (OSError, ValueError):
        return False


def why_not() -> str | None:
    """Why Slurm cannot run here (None when it can)."""
    if os.geteuid() != 0:
        return "not root: the daemons need root (slurmd) and the munge and slurm users"
    for b in ["slurmctld", "slurmd", "munged", "sbatch", "sinfo"]:
        if shutil.which(b) is None and not Path(f"/usr/sbin/{b}").exists():
            return f"{b} missing: run .ci/install (Debian slurm-wlm, munge)"
    return None


def idle(timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
        if r.returncode == 0 and "idle" in r.stdout:
            return True
        time.sleep(0.2)
    return False


def ensure_slurm() -> bool:
    """Start munged, slurmctld and slurmd when they are not running; wait until the node is idle. Returns whether
    this call started any daemon."""
    for d in ["/run/munge", "/run/slurm", "/var/spool/slurmctld", "/var/spool/slurmd", "/var/log/slurm"]:
        Path(d).mkdir(parents=True, exist_ok=True)
    subprocess.run(["chown", "munge:munge", "/run/munge"], check=True)
    subprocess.run(["chown", "slurm:slurm", "/run/slurm", "/var/spool/slurmctld", "/var/log/slurm"], check=True)
    conf = _conf()
    if not CONF.exists() or CONF.read_text() != conf:
        CONF.write_text(conf)
    key = Path("/etc/munge/munge.key")
    if not key.exists() or key.stat().st_size == 0:
        subprocess.run(["mungekey", "--create"], check=True)
        subprocess.run(["chown", "munge:munge", str(key)], check=True)
    started = False
    if not _alive(PIDS[2]):
        subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged"], check=True)
        started = True
    if not _alive(PIDS[0]):
        subprocess.run(["/usr/sbin/slurmctld"], check=True)
        started = True
    if not _alive(PIDS[1]):
        subprocess.run(["/usr/sbin/slurmd"], check=True)
        started = True
    if not idle():
        state = subprocess.run(["sinfo", "-N", "-l"], capture_output=True, text=True)
        raise RuntimeError(f"Slurm node not idle after 30 s:\n{state.stdout}{state.stderr}")
    return started


def stop_slurm() -> None:
    """Stop the three daemons by their pid files (TERM, then wait for them to exit)."""
    for pf in PIDS:
        try:
            pid = int(pf.read_text().strip())
            os.kill(pid, 15)
        except (OSError, ValueError):
            continue
        end = time.monotonic() + 20
        while time.monotonic() < end:
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.1)
