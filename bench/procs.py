"""Processes: start servers pinned to a core, read their CPU time and peak memory from /proc,
stop them by their own process id."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_CORE = 0
LOADGEN_CORE = 1
PAGE_KB = 1024


def db_core() -> int:
    """The core of the database server's backends: the server's core unless `--db-core`."""
    return int(os.environ.get("BENCH_DB_CORE", SERVER_CORE))


def cpu_count() -> int:
    return os.cpu_count() or 1


def pin_prefix(core: int) -> list[str]:
    """`taskset -c CORE` when the machine has that core, else nothing."""
    if cpu_count() > core and shutil.which("taskset"):
        return ["taskset", "-c", str(core)]
    return []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name may hold spaces: split after the closing parenthesis
    rest = raw[raw.rindex(")") + 2 :].split()
    return rest  # rest[0] is field 3 (state)


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads), in seconds."""
    st = _stat(pid)
    if st is None:
        return 0.0
    return (int(st[11]) + int(st[12])) / CLK_TCK


def session_pids(sid: int) -> list[int]:
    """Every live process whose session id is `sid` (a server started in its own session)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = _stat(int(entry))
        if st is not None and int(st[3]) == sid:
            out.append(int(entry))
    return out


def system_busy_seconds() -> float:
    """CPU seconds all cores spent on anything but idle and I/O wait since boot."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class CpuTracker:
    """Keeps the last CPU reading of every process seen, so processes that exit still count."""

    def __init__(self) -> None:
        self.seen: dict[int, float] = {}
        self.lock = threading.Lock()

    def update(self, pids: list[int]) -> None:
        with self.lock:
            for pid in pids:
                value = proc_cpu_seconds(pid)
                if value >= self.seen.get(pid, 0.0):
                    self.seen[pid] = value

    def total(self) -> float:
        with self.lock:
            return sum(self.seen.values())


class Server:
    """A server process started in its own session, pinned to the server core."""

    def __init__(self, name: str, argv: list[str], port: int, *, cwd=None, env=None, log=None):
        self.name = name
        self.argv = argv
        self.port = port
        self.cwd = cwd
        self.env = env
        self.log_path = log
        self.proc: subprocess.Popen | None = None
        self.cpu = CpuTracker()
        self.peak_kb = 0
        self.extra_pids_fn = None  # callable returning more pids to count (database backends)
        self.extra_cpu = CpuTracker()
        self._sampler: threading.Thread | None = None
        self._stop_sampling = threading.Event()

    def start(self, health_path: str = "/healthz", timeout: float = 30.0) -> None:
        with open(self.log_path or os.devnull, "ab") as logf:
            self.proc = subprocess.Popen(
                pin_prefix(SERVER_CORE) + self.argv,
                cwd=self.cwd,
                env=self.env,
                stdout=logf,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}{health_path}"
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}; see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status < 500:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not answer {url} within {timeout}s")
            time.sleep(0.1)
        self._stop_sampling.clear()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def pids(self) -> list[int]:
        if self.proc is None:
            return []
        return session_pids(self.proc.pid)

    def _sample(self) -> None:
        while not self._stop_sampling.is_set():
            self.snapshot()
            self._stop_sampling.wait(0.25)

    def snapshot(self) -> None:
        pids = self.pids()
        self.cpu.update(pids)
        hwm = sum(vm_hwm_kb(p) for p in pids)
        self.peak_kb = max(self.peak_kb, hwm)
        if self.extra_pids_fn is not None:
            extra = self.extra_pids_fn()
            for pid in extra:
                try:
                    core = db_core()
                    if cpu_count() > core:
                        os.sched_setaffinity(pid, {core})
                except OSError:
                    pass
            self.extra_cpu.update(extra)

    def cpu_seconds(self) -> tuple[float, float]:
        """(server process CPU, database backend CPU) so far."""
        self.snapshot()
        return self.cpu.total(), self.extra_cpu.total()

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        self._stop_sampling.set()
        if self._sampler is not None:
            self._sampler.join(2)
        if self.proc.poll() is None:
            self.snapshot()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        # children left in the session (e.g. nginx workers) are ended by the group id
        for pid in session_pids(self.proc.pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        return self.proc.returncode


def run_pinned(argv: list[str], core: int, timeout: float, env=None, cwd=None):
    """Run a command pinned to `core`; return (stdout, stderr, returncode, cpu seconds)."""
    proc = subprocess.Popen(
        pin_prefix(core) + argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise RuntimeError(f"{argv[0]} ran past {timeout}s and was stopped") from None
    return out, err, proc.returncode


def ensure_debian_packages(packages: dict[str, str]) -> None:
    """Install missing tools from Debian (`{binary: package}`), as the bench's setup step."""
    missing = [pkg for binary, pkg in packages.items() if shutil.which(binary) is None]
    if not missing:
        return
    print(f"installing {' '.join(missing)} with apt-get", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)


def get_url(url: str, timeout: float = 5.0) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status


def read_metrics(port: int, timeout: float = 5.0) -> dict[str, float]:
    """The unlabelled counters and gauges of `GET /metrics` ({} when it cannot be read)."""
    out: dict[str, float] = {}
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as r:
            text = r.read().decode()
    except OSError:
        return out
    for line in text.splitlines():
        if line.startswith("#") or "{" in line:
            continue
        name, _, value = line.partition(" ")
        with contextlib.suppress(ValueError):
            out[name] = float(value)
    return out
