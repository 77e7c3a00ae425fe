"""Starts, stops and inspects the local suite: ingestion, profile, consent, segmentation,
recommendation, measurement and gateway as detached processes.

Each process runs in its own session (it outlives the command that started it), writes to
DIR/logs/<name>.log and is recorded in DIR/pids/<name>.pid. A pid file is trusted only when the
process behind it still runs the same command line, so a recycled pid is never signalled.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from precis_client import PrecisClient, PrecisError
from precis_devstack.state import (
    WORKSPACE_ID,
    StateLayout,
    ensure_secret,
    generate_api_key,
    generate_pii_secret,
    read_manifest,
    read_pid,
    remove_pid,
    write_manifest,
    write_pid,
)

HOST = "127.0.0.1"
# Started in this order, each once the previous one is ready; the gateway last, since its
# readiness is that of the services behind it.
NAMES = (
    "ingestion",
    "profile",
    "consent",
    "segmentation",
    "recommendation",
    "measurement",
    "gateway",
)
DEFAULT_PORTS = {
    "gateway": 8080,
    "ingestion": 50051,
    "profile": 50052,
    "consent": 50053,
    "segmentation": 50054,
    "recommendation": 50055,
    "measurement": 50056,
}
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
Probe = Literal["grpc", "http"]
Output = Callable[[str], None]


class DevstackError(RuntimeError):
    """The suite could not be started, stopped or inspected; the message says what to do."""


class PortInUseError(DevstackError):
    pass


class StartupError(DevstackError):
    pass


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """How to run one process of the suite and how to tell that it is ready."""

    name: str
    argv: tuple[str, ...]
    port: int
    probe: Probe
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ManagedProcess:
    """A running process of the suite; ``popen`` is set when this call started it."""

    name: str
    pid: int
    port: int
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None


@dataclass(slots=True)
class Suite:
    state_dir: Path
    gateway_url: str
    api_key: str
    workspace_id: str
    processes: dict[str, ManagedProcess]

    def client(self, *, timeout: float = 30.0) -> PrecisClient:
        return PrecisClient(self.gateway_url, self.api_key, timeout=timeout)


@dataclass(frozen=True, slots=True)
class ProcessStatus:
    name: str
    pid: int | None
    running: bool
    port: int | None
    health: str
    log_path: Path


# Processes --------------------------------------------------------------------------------------


def process_alive(pid: int) -> bool:
    """True while ``pid`` exists and has not exited (a zombie waiting to be reaped has).

    Our own exited children are not reaped here, so a Popen handle still gets the real status.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    proc = Path("/proc")
    if proc.is_dir():
        try:
            stat = (proc / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            return False
        # The state letter follows the command name, which is in parentheses and may hold spaces.
        fields = stat.rpartition(")")[2].split()
        return not fields or fields[0] != "Z"
    # No /proc (macOS): reap it if it is our exited child, otherwise trust kill(0).
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return reaped != pid


def process_command_line(pid: int) -> list[str] | None:
    """The argv of a running process, or None where /proc does not exist (macOS)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_suite_process(pid: int, argv: Sequence[str]) -> bool:
    """Whether ``pid`` runs ``argv`` (the interpreter path aside: it may be spelt differently)."""
    if not process_alive(pid):
        return False
    command_line = process_command_line(pid)
    if command_line is None:
        return True
    return command_line[1:] == list(argv[1:])


def running_pid(layout: StateLayout, name: str, argv: Sequence[str]) -> int | None:
    """The pid of ``name`` if its pid file names a live process running ``argv``."""
    pid = read_pid(layout, name)
    if pid is not None and is_suite_process(pid, argv):
        return pid
    return None


def port_in_use(port: int, host: str = HOST) -> bool:
    """Whether something listens on host:port (SO_REUSEADDR: lingering TIME_WAIT is not use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def _signal(pid: int, signum: int) -> None:
    try:
        # Each process leads its own session: signal its group so helpers it forked go too.
        if os.getpgid(pid) == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
    except ProcessLookupError:
        pass


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:])


# Probes -------------------------------------------------------------------------------------------


def grpc_health(port: int, host: str = HOST, timeout: float = 1.0) -> str:
    """The grpc.health.v1 status of the overall service "" (SERVING...), or why there is none."""
    with grpc.insecure_channel(f"{host}:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
        except grpc.RpcError as exc:
            return f"unreachable ({exc.code().name})"
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))


def gateway_health(url: str, api_key: str, timeout: float = 2.0) -> str:
    try:
        with PrecisClient(url, api_key or "-", timeout=timeout, max_retries=0) as client:
            ready = client.readyz()
    except PrecisError as exc:
        return f"unreachable ({exc.code})"
    return "READY" if ready.ok else f"NOT_READY (HTTP {ready.http_status})"


def probe(spec_probe: Probe, port: int, api_key: str) -> str:
    if spec_probe == "grpc":
        return grpc_health(port)
    return gateway_health(f"http://{HOST}:{port}", api_key)


def _is_ready(status: str) -> bool:
    return status in ("SERVING", "READY")


# The suite ------------------------------------------------------------------------------------


def module_argv(name: str) -> tuple[str, ...]:
    return (sys.executable, "-m", f"precis_{name}")


def suite_specs(
    layout: StateLayout,
    *,
    gateway_port: int,
    ingestion_port: int,
    profile_port: int,
    consent_port: int = DEFAULT_PORTS["consent"],
    segmentation_port: int = DEFAULT_PORTS["segmentation"],
    recommendation_port: int = DEFAULT_PORTS["recommendation"],
    measurement_port: int = DEFAULT_PORTS["measurement"],
    api_key: str,
    pii_secret: str,
    env_overrides: Mapping[str, str] | None = None,
) -> list[ProcessSpec]:
    """The suite's processes with their environment (env_overrides win over everything)."""
    shared = {
        "PRECIS_ENVIRONMENT": "development",
        "PRECIS_PII_SECRET": pii_secret,
        "PRECIS_STATE_DIR": str(layout.root),
        "PRECIS_GRPC_HOST": HOST,
        "PRECIS_TELEMETRY": os.environ.get("PRECIS_TELEMETRY", "none"),
        "PRECIS_LOG_LEVEL": os.environ.get("PRECIS_LOG_LEVEL", "INFO"),
        "PYTHONUNBUFFERED": "1",
    }
    ingestion_target = f"{HOST}:{ingestion_port}"
    own = {
        "ingestion": {
            "PRECIS_INGESTION_GRPC_PORT": str(ingestion_port),
            "PRECIS_INGESTION_DATABASE_URL": f"sqlite:///{layout.db_path('ingestion')}",
            # The suppression list of erased subjects comes from consent's feed.
            "PRECIS_INGESTION_CONSENT_TARGET": f"{HOST}:{consent_port}",
        },
        "profile": {
            "PRECIS_PROFILE_GRPC_PORT": str(profile_port),
            "PRECIS_PROFILE_DATABASE_URL": f"sqlite:///{layout.db_path('profile')}",
            "PRECIS_PROFILE_INGESTION_TARGET": ingestion_target,
        },
        "consent": {
            "PRECIS_CONSENT_GRPC_PORT": str(consent_port),
            "PRECIS_CONSENT_DATABASE_URL": f"sqlite:///{layout.db_path('consent')}",
            # Every other service holding personal data, for data-subject requests.
            "PRECIS_CONSENT_PRIVACY_TARGETS": json.dumps(
                {
                    "ingestion": ingestion_target,
                    "profile": f"{HOST}:{profile_port}",
                    "segmentation": f"{HOST}:{segmentation_port}",
                    "recommendation": f"{HOST}:{recommendation_port}",
                    "measurement": f"{HOST}:{measurement_port}",
                }
            ),
            # Consent stated inside events, from ingestion's consent_captures feed.
            "PRECIS_CONSENT_INGESTION_TARGET": ingestion_target,
        },
        "segmentation": {
            "PRECIS_SEGMENTATION_GRPC_PORT": str(segmentation_port),
            "PRECIS_SEGMENTATION_DATABASE_URL": f"sqlite:///{layout.db_path('segmentation')}",
            # The read model follows profile_changes and consent_changes.
            "PRECIS_SEGMENTATION_PROFILE_TARGET": f"{HOST}:{profile_port}",
            "PRECIS_SEGMENTATION_CONSENT_TARGET": f"{HOST}:{consent_port}",
            # Uplift models learn from a campaign's subjects (called only while training).
            "PRECIS_SEGMENTATION_MEASUREMENT_TARGET": f"{HOST}:{measurement_port}",
        },
        "recommendation": {
            "PRECIS_RECOMMENDATION_GRPC_PORT": str(recommendation_port),
            "PRECIS_RECOMMENDATION_DATABASE_URL": f"sqlite:///{layout.db_path('recommendation')}",
            # Interactions follow profile_changes, segment members follow membership_changes;
            # consent is asked before a profile is personalized.
            "PRECIS_RECOMMENDATION_PROFILE_TARGET": f"{HOST}:{profile_port}",
            "PRECIS_RECOMMENDATION_CONSENT_TARGET": f"{HOST}:{consent_port}",
            "PRECIS_RECOMMENDATION_SEGMENTATION_TARGET": f"{HOST}:{segmentation_port}",
            # numpy / implicit: one OpenBLAS thread instead of one per CPU of the machine.
            "OPENBLAS_NUM_THREADS": "1",
        },
        "measurement": {
            "PRECIS_MEASUREMENT_GRPC_PORT": str(measurement_port),
            "PRECIS_MEASUREMENT_DATABASE_URL": f"sqlite:///{layout.db_path('measurement')}",
            # Exposures and conversions follow profile_changes (GetProfile resolves
            # identifiers); campaigns enroll the members segmentation releases.
            "PRECIS_MEASUREMENT_PROFILE_TARGET": f"{HOST}:{profile_port}",
            "PRECIS_MEASUREMENT_SEGMENTATION_TARGET": f"{HOST}:{segmentation_port}",
            # numpy / scipy / scikit-learn: one OpenBLAS thread, not one per CPU of the machine.
            "OPENBLAS_NUM_THREADS": "1",
        },
        "gateway": {
            "PRECIS_GATEWAY_HOST": HOST,
            "PRECIS_GATEWAY_PORT": str(gateway_port),
            "PRECIS_GATEWAY_INGESTION_TARGET": ingestion_target,
            "PRECIS_GATEWAY_PROFILE_TARGET": f"{HOST}:{profile_port}",
            "PRECIS_GATEWAY_CONSENT_TARGET": f"{HOST}:{consent_port}",
            "PRECIS_GATEWAY_SEGMENTATION_TARGET": f"{HOST}:{segmentation_port}",
            "PRECIS_GATEWAY_RECOMMENDATION_TARGET": f"{HOST}:{recommendation_port}",
            "PRECIS_GATEWAY_MEASUREMENT_TARGET": f"{HOST}:{measurement_port}",
            "PRECIS_GATEWAY_API_KEYS": json.dumps({api_key: WORKSPACE_ID}),
        },
    }
    ports = {
        "ingestion": ingestion_port,
        "profile": profile_port,
        "consent": consent_port,
        "segmentation": segmentation_port,
        "recommendation": recommendation_port,
        "measurement": measurement_port,
        "gateway": gateway_port,
    }
    return [
        ProcessSpec(
            name=name,
            argv=module_argv(name),
            port=ports[name],
            probe="http" if name == "gateway" else "grpc",
            env={**shared, **own[name], **(env_overrides or {})},
        )
        for name in NAMES
    ]


def start_suite(
    state_dir: Path | str,
    gateway_port: int = DEFAULT_PORTS["gateway"],
    ingestion_port: int = DEFAULT_PORTS["ingestion"],
    profile_port: int = DEFAULT_PORTS["profile"],
    consent_port: int = DEFAULT_PORTS["consent"],
    env_overrides: Mapping[str, str] | None = None,
    *,
    segmentation_port: int = DEFAULT_PORTS["segmentation"],
    recommendation_port: int = DEFAULT_PORTS["recommendation"],
    measurement_port: int = DEFAULT_PORTS["measurement"],
    timeout: float = START_TIMEOUT,
    output: Output | None = None,
) -> Suite:
    """Starts whatever of the suite is not running yet and waits until all of it is ready.

    Idempotent: processes already running on the requested ports are kept. Raises
    PortInUseError when a port is taken by something else, StartupError (naming the process
    and its log) when a process dies or is not ready within ``timeout`` seconds; in both cases
    nothing this call started is left running.
    """
    layout = StateLayout.at(state_dir)
    layout.create()
    api_key = ensure_secret(layout.api_key_path, generate_api_key)
    pii_secret = ensure_secret(layout.pii_secret_path, generate_pii_secret)
    specs = suite_specs(
        layout,
        gateway_port=gateway_port,
        ingestion_port=ingestion_port,
        profile_port=profile_port,
        consent_port=consent_port,
        segmentation_port=segmentation_port,
        recommendation_port=recommendation_port,
        measurement_port=measurement_port,
        api_key=api_key,
        pii_secret=pii_secret,
        env_overrides=env_overrides,
    )
    processes = launch(layout, specs, api_key=api_key, timeout=timeout, output=output)
    return Suite(
        state_dir=layout.root,
        gateway_url=f"http://{HOST}:{gateway_port}",
        api_key=api_key,
        workspace_id=WORKSPACE_ID,
        processes=processes,
    )


def launch(
    layout: StateLayout,
    specs: Sequence[ProcessSpec],
    *,
    api_key: str,
    timeout: float = START_TIMEOUT,
    output: Output | None = None,
) -> dict[str, ManagedProcess]:
    """Starts ``specs`` in order, each after the previous one is ready (see start_suite)."""
    say = output or (lambda _line: None)
    layout.create()
    manifest = read_manifest(layout)
    recorded = manifest.get("processes", {})
    running: dict[str, int] = {}
    for spec in specs:
        pid = running_pid(layout, spec.name, spec.argv)
        if pid is None:
            remove_pid(layout, spec.name)  # stale: the process is gone or the pid was reused
            continue
        port = recorded.get(spec.name, {}).get("port")
        if port != spec.port:
            raise DevstackError(
                f"{spec.name} is already running (pid {pid}) on port {port}, not {spec.port}; "
                f"stop the suite first: python -m precis_devstack down --state-dir {layout.root}"
            )
        running[spec.name] = pid

    taken = [s for s in specs if s.name not in running and port_in_use(s.port)]
    if taken:
        listing = ", ".join(f"{s.port} ({s.name})" for s in taken)
        raise PortInUseError(
            f"port {listing} already in use by another program; stop it or choose other "
            "ports (--gateway-port, --ingestion-port, --profile-port, --consent-port, "
            "--segmentation-port, --recommendation-port, --measurement-port)"
        )

    manifest = {"host": HOST, "processes": dict(recorded)}
    for name in list(manifest["processes"]):
        if name not in running:
            del manifest["processes"][name]
    started: list[ManagedProcess] = []
    result: dict[str, ManagedProcess] = {}
    try:
        for spec in specs:
            if spec.name in running:
                process = ManagedProcess(
                    spec.name, running[spec.name], spec.port, layout.log_path(spec.name)
                )
                say(f"{spec.name}: already running (pid {process.pid}, port {spec.port})")
            else:
                process = _spawn(layout, spec)
                started.append(process)
                manifest["processes"][spec.name] = {
                    "pid": process.pid,
                    "port": spec.port,
                    "argv": list(spec.argv),
                    "log": str(process.log_path),
                    "started_at": datetime.now(UTC).isoformat(),
                }
                write_manifest(layout, manifest)
                say(f"{spec.name}: started (pid {process.pid}, port {spec.port})")
            _wait_ready(spec, process, api_key=api_key, timeout=timeout)
            say(f"{spec.name}: ready")
            result[spec.name] = process
    except BaseException:
        # Leave nothing half-started behind; the logs stay for diagnosis.
        _terminate([(p.pid, p.popen) for p in started], STOP_TIMEOUT)
        for process in started:
            remove_pid(layout, process.name)
            manifest["processes"].pop(process.name, None)
        write_manifest(layout, manifest)
        raise
    return result


def _spawn(layout: StateLayout, spec: ProcessSpec) -> ManagedProcess:
    log_path = layout.log_path(spec.name)
    env = {**os.environ, **spec.env}
    with log_path.open("ab") as log:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        log.write(f"\n=== {stamp} starting {' '.join(spec.argv)}\n".encode())
        log.flush()
        popen = subprocess.Popen(
            list(spec.argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    write_pid(layout, spec.name, popen.pid)
    return ManagedProcess(spec.name, popen.pid, spec.port, log_path, popen)


def _wait_ready(
    spec: ProcessSpec, process: ManagedProcess, *, api_key: str, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    status = "not probed"
    while True:
        exit_code = process.popen.poll() if process.popen is not None else None
        if exit_code is not None or (process.popen is None and not process_alive(process.pid)):
            raise StartupError(
                f"{spec.name} exited (code {exit_code}) before it was ready; "
                f"its log is {process.log_path}:\n{log_tail(process.log_path)}"
            )
        status = probe(spec.probe, spec.port, api_key)
        if _is_ready(status):
            return
        if time.monotonic() >= deadline:
            raise StartupError(
                f"{spec.name} (pid {process.pid}) was not ready within {timeout:.0f} s "
                f"(last health check: {status}); its log is {process.log_path}:\n"
                f"{log_tail(process.log_path)}"
            )
        time.sleep(0.2)


def _terminate(
    targets: Sequence[tuple[int, subprocess.Popen[bytes] | None]], timeout: float
) -> list[int]:
    """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL. Returns the pids that needed it."""
    for pid, _ in targets:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout

    def alive(pid: int, popen: subprocess.Popen[bytes] | None) -> bool:
        if popen is not None:
            return popen.poll() is None
        return process_alive(pid)

    remaining = list(targets)
    while remaining and time.monotonic() < deadline:
        remaining = [(pid, popen) for pid, popen in remaining if alive(pid, popen)]
        if remaining:
            time.sleep(0.1)
    for pid, _ in remaining:
        _signal(pid, signal.SIGKILL)
    kill_deadline = time.monotonic() + 5.0
    while any(alive(pid, popen) for pid, popen in remaining) and time.monotonic() < kill_deadline:
        time.sleep(0.05)
    return [pid for pid, _ in remaining]


def _expected_argv(layout: StateLayout, name: str) -> tuple[str, ...]:
    recorded = read_manifest(layout).get("processes", {}).get(name, {}).get("argv")
    if isinstance(recorded, list) and all(isinstance(a, str) for a in recorded):
        return tuple(recorded)
    return module_argv(name)


def _known_names(layout: StateLayout) -> list[str]:
    names = list(NAMES)
    names += [n for n in read_manifest(layout).get("processes", {}) if n not in names]
    if layout.pids_dir.is_dir():
        names += sorted(p.stem for p in layout.pids_dir.glob("*.pid") if p.stem not in names)
    return names


def stop_suite(
    state_dir: Path | str, *, timeout: float = STOP_TIMEOUT, output: Output | None = None
) -> list[str]:
    """Stops every recorded process (SIGTERM, then SIGKILL after ``timeout`` s); returns names.

    Pid files are removed, including stale ones; a pid now used by another program is left alone.
    """
    say = output or (lambda _line: None)
    layout = StateLayout.at(state_dir)
    targets: list[tuple[str, int]] = []
    # The gateway first, so it stops taking requests before the services behind it go.
    for name in reversed(_known_names(layout)):
        pid = running_pid(layout, name, _expected_argv(layout, name))
        if pid is not None:
            targets.append((name, pid))
    killed = _terminate([(pid, None) for _, pid in targets], timeout)
    for name, pid in targets:
        how = "killed after not stopping in time" if pid in killed else "stopped"
        say(f"{name}: {how} (pid {pid})")
    for name in _known_names(layout):
        remove_pid(layout, name)
    layout.manifest_path.unlink(missing_ok=True)
    return [name for name, _ in targets]


def suite_status(state_dir: Path | str) -> list[ProcessStatus]:
    """What runs, on which port, and what its health check says."""
    layout = StateLayout.at(state_dir)
    recorded = read_manifest(layout).get("processes", {})
    try:
        api_key = layout.api_key_path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        api_key = ""
    statuses = []
    for name in _known_names(layout):
        pid = read_pid(layout, name)
        running = pid is not None and is_suite_process(pid, _expected_argv(layout, name))
        port = recorded.get(name, {}).get("port")
        if running and isinstance(port, int):
            health = probe("http" if name == "gateway" else "grpc", port, api_key)
        else:
            health = "-"
        statuses.append(
            ProcessStatus(
                name=name,
                pid=pid if running else None,
                running=running,
                port=port if isinstance(port, int) else None,
                health=health,
                log_path=layout.log_path(name),
            )
        )
    return statuses
