"""Process management of the local suite, with small stand-in servers instead of the services."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from precis_consent.settings import ConsentSettings
from precis_devstack import state
from precis_devstack.__main__ import build_parser
from precis_devstack.suite import (
    DEFAULT_PORTS,
    NAMES,
    PortInUseError,
    ProcessSpec,
    StartupError,
    grpc_health,
    is_suite_process,
    launch,
    port_in_use,
    process_alive,
    running_pid,
    start_suite,
    stop_suite,
    suite_specs,
    suite_status,
)
from precis_measurement.settings import MeasurementSettings
from precis_recommendation.settings import RecommendationSettings

FAKE_GRPC = textwrap.dedent(
    """
    import signal, sys
    from concurrent import futures
    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc
    server = grpc.server(futures.ThreadPoolExecutor(2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    server.add_insecure_port(f"127.0.0.1:{sys.argv[1]}")
    server.start()
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    signal.signal(signal.SIGTERM, lambda *_: server.stop(0))
    server.wait_for_termination()
    """
)

FAKE_GATEWAY = textwrap.dedent(
    """
    import sys
    from http.server import BaseHTTPRequestHandler, HTTPServer
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/readyz" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"status": "ok"}')
        def log_message(self, *args):
            pass
    HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
    """
)

# Ignores SIGTERM, so that stopping it needs the SIGKILL fallback.
STUBBORN = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(120)\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def layout(tmp_path: Path) -> Iterator[state.StateLayout]:
    layout = state.StateLayout.at(tmp_path / "state")
    layout.create()
    yield layout
    stop_suite(layout.root, timeout=2)


@pytest.fixture
def unrelated_process() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that is not part of the suite."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def fake_specs(tmp_path: Path) -> list[ProcessSpec]:
    grpc_script = tmp_path / "fake_grpc.py"
    grpc_script.write_text(FAKE_GRPC)
    http_script = tmp_path / "fake_gateway.py"
    http_script.write_text(FAKE_GATEWAY)
    specs = []
    for name, script, probe in (
        ("ingestion", grpc_script, "grpc"),
        ("gateway", http_script, "http"),
    ):
        port = free_port()
        argv = (sys.executable, str(script), str(port))
        specs.append(ProcessSpec(name, argv, port, probe))  # type: ignore[arg-type]
    return specs


# Pid files -------------------------------------------------------------------------------------


def test_pid_files_round_trip_and_ignore_garbage(layout: state.StateLayout) -> None:
    assert state.read_pid(layout, "profile") is None
    state.write_pid(layout, "profile", 4242)
    assert layout.pid_path("profile").read_text() == "4242\n"
    assert state.read_pid(layout, "profile") == 4242
    layout.pid_path("profile").write_text("not a pid")
    assert state.read_pid(layout, "profile") is None
    state.remove_pid(layout, "profile")
    state.remove_pid(layout, "profile")  # removing twice is fine
    assert not layout.pid_path("profile").exists()


def test_a_pid_file_of_an_exited_process_is_stale(layout: state.StateLayout) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    state.write_pid(layout, "ingestion", proc.pid)
    assert not process_alive(proc.pid)
    assert running_pid(layout, "ingestion", (sys.executable, "-m", "precis_ingestion")) is None


def test_a_reused_pid_is_not_mistaken_for_a_suite_process(
    layout: state.StateLayout, unrelated_process: subprocess.Popen[bytes]
) -> None:
    state.write_pid(layout, "gateway", unrelated_process.pid)
    assert process_alive(unrelated_process.pid)
    assert not is_suite_process(unrelated_process.pid, (sys.executable, "-m", "precis_gateway"))
    assert running_pid(layout, "gateway", (sys.executable, "-m", "precis_gateway")) is None

    # down cleans the stale pid file but never signals the stranger.
    assert stop_suite(layout.root, timeout=1) == []
    assert not layout.pid_path("gateway").exists()
    time.sleep(0.2)
    assert unrelated_process.poll() is None


def test_secrets_are_created_once_and_reused(layout: state.StateLayout) -> None:
    key = state.ensure_secret(layout.api_key_path, state.generate_api_key)
    assert key.startswith("precis_dev_")
    assert state.ensure_secret(layout.api_key_path, state.generate_api_key) == key
    assert layout.api_key_path.stat().st_mode & 0o777 == 0o600


# The suite's processes ---------------------------------------------------------------------------


def test_consent_runs_as_its_own_process_behind_the_gateway(layout: state.StateLayout) -> None:
    specs = suite_specs(
        layout,
        gateway_port=18080,
        ingestion_port=15051,
        profile_port=15052,
        consent_port=15053,
        api_key="k",
        pii_secret="s" * 32,
    )
    by_name = {s.name: s for s in specs}
    # Started in order and each waited for: consent, segmentation, recommendation and measurement
    # before the gateway, whose readiness needs them; each after the services it calls.
    assert [s.name for s in specs] == list(NAMES)
    assert list(NAMES) == [
        "ingestion",
        "profile",
        "consent",
        "segmentation",
        "recommendation",
        "measurement",
        "gateway",
    ]
    consent = by_name["consent"]
    assert consent.argv[1:] == ("-m", "precis_consent")
    assert (consent.port, consent.probe) == (15053, "grpc")
    assert consent.env["PRECIS_CONSENT_GRPC_PORT"] == "15053"
    assert consent.env["PRECIS_CONSENT_DATABASE_URL"] == f"sqlite:///{layout.root / 'consent.db'}"
    assert consent.env["PRECIS_STATE_DIR"] == str(layout.root)
    assert by_name["gateway"].env["PRECIS_GATEWAY_CONSENT_TARGET"] == "127.0.0.1:15053"
    # The services share nothing but the PII secret: each has its own database file.
    urls = {s.env.get(f"PRECIS_{s.name.upper()}_DATABASE_URL") for s in specs}
    assert len(urls - {None}) == 6
    assert {s.env["PRECIS_PII_SECRET"] for s in specs} == {"s" * 32}
    overridden = suite_specs(
        layout,
        gateway_port=1,
        ingestion_port=2,
        profile_port=3,
        api_key="k",
        pii_secret="s",
        env_overrides={"PRECIS_CONSENT_DATABASE_URL": "postgresql+psycopg://db/consent"},
    )
    consent = next(s for s in overridden if s.name == "consent")
    assert consent.port == DEFAULT_PORTS["consent"] == 50053
    assert consent.env["PRECIS_CONSENT_DATABASE_URL"] == "postgresql+psycopg://db/consent"


def test_consent_is_told_where_every_other_privacy_service_listens(
    layout: state.StateLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Data-subject requests reach ingestion, profile, segmentation, recommendation and
    measurement on the ports this suite runs them on, not on the defaults (the e2e suites start
    everything on free ports)."""
    specs = suite_specs(
        layout,
        gateway_port=18080,
        ingestion_port=15051,
        profile_port=15052,
        consent_port=15053,
        segmentation_port=15054,
        recommendation_port=15055,
        measurement_port=15056,
        api_key="k",
        pii_secret="s" * 32,
    )
    consent = next(s for s in specs if s.name == "consent")
    for name, value in consent.env.items():
        monkeypatch.setenv(name, value)
    assert ConsentSettings().consent_privacy_targets == {
        "ingestion": "127.0.0.1:15051",
        "profile": "127.0.0.1:15052",
        "segmentation": "127.0.0.1:15054",
        "recommendation": "127.0.0.1:15055",
        "measurement": "127.0.0.1:15056",
    }


def test_segmentation_follows_profile_and_consent_on_the_suites_ports(
    layout: state.StateLayout,
) -> None:
    specs = suite_specs(
        layout,
        gateway_port=18080,
        ingestion_port=15051,
        profile_port=15052,
        consent_port=15053,
        segmentation_port=15054,
        measurement_port=15056,
        api_key="k",
        pii_secret="s" * 32,
    )
    by_name = {s.name: s for s in specs}
    segmentation = by_name["segmentation"]
    assert segmentation.argv[1:] == ("-m", "precis_segmentation")
    assert (segmentation.port, segmentation.probe) == (15054, "grpc")
    assert segmentation.env["PRECIS_SEGMENTATION_PROFILE_TARGET"] == "127.0.0.1:15052"
    assert segmentation.env["PRECIS_SEGMENTATION_CONSENT_TARGET"] == "127.0.0.1:15053"
    assert segmentation.env["PRECIS_SEGMENTATION_MEASUREMENT_TARGET"] == "127.0.0.1:15056"
    assert by_name["gateway"].env["PRECIS_GATEWAY_SEGMENTATION_TARGET"] == "127.0.0.1:15054"


def fixed_port_specs(layout: state.StateLayout) -> list[ProcessSpec]:
    """The suite on ports 15051.. (18080 for the gateway), so tests can name each target."""
    return suite_specs(
        layout,
        gateway_port=18080,
        ingestion_port=15051,
        profile_port=15052,
        consent_port=15053,
        segmentation_port=15054,
        recommendation_port=15055,
        measurement_port=15056,
        api_key="k",
        pii_secret="s" * 32,
    )


def test_recommendation_calls_profile_consent_and_segmentation_on_the_suites_ports(
    layout: state.StateLayout,
) -> None:
    specs = fixed_port_specs(layout)
    by_name = {s.name: s for s in specs}
    recommendation = by_name["recommendation"]
    assert recommendation.argv[1:] == ("-m", "precis_recommendation")
    assert (recommendation.port, recommendation.probe) == (15055, "grpc")
    assert recommendation.env["PRECIS_RECOMMENDATION_GRPC_PORT"] == "15055"
    assert recommendation.env["PRECIS_RECOMMENDATION_DATABASE_URL"] == (
        f"sqlite:///{layout.root / 'recommendation.db'}"
    )
    assert recommendation.env["PRECIS_RECOMMENDATION_PROFILE_TARGET"] == "127.0.0.1:15052"
    assert recommendation.env["PRECIS_RECOMMENDATION_CONSENT_TARGET"] == "127.0.0.1:15053"
    assert recommendation.env["PRECIS_RECOMMENDATION_SEGMENTATION_TARGET"] == "127.0.0.1:15054"
    # numpy / implicit would otherwise start one OpenBLAS thread per CPU of the machine.
    assert recommendation.env["OPENBLAS_NUM_THREADS"] == "1"
    assert by_name["gateway"].env["PRECIS_GATEWAY_RECOMMENDATION_TARGET"] == "127.0.0.1:15055"
    # Started after the three services it calls, before the gateway.
    order = [s.name for s in specs]
    assert order.index("recommendation") > max(
        order.index("profile"), order.index("consent"), order.index("segmentation")
    )
    assert order.index("recommendation") < order.index("gateway")
    assert DEFAULT_PORTS["recommendation"] == 50055


def test_recommendation_reads_the_settings_the_suite_gives_it(
    layout: state.StateLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The variable names are the service's contract: its settings class reads every one."""
    specs = fixed_port_specs(layout)
    recommendation = next(s for s in specs if s.name == "recommendation")
    for name, value in recommendation.env.items():
        monkeypatch.setenv(name, value)
    settings = RecommendationSettings()
    assert settings.recommendation_grpc_port == 15055
    assert settings.database_url == f"sqlite:///{(layout.root / 'recommendation.db').as_posix()}"
    assert settings.recommendation_profile_target == "127.0.0.1:15052"
    assert settings.recommendation_consent_target == "127.0.0.1:15053"
    assert settings.recommendation_segmentation_target == "127.0.0.1:15054"
    assert settings.state_dir == layout.root


def test_measurement_follows_profile_and_segmentation_on_the_suites_ports(
    layout: state.StateLayout,
) -> None:
    specs = fixed_port_specs(layout)
    by_name = {s.name: s for s in specs}
    measurement = by_name["measurement"]
    assert measurement.argv[1:] == ("-m", "precis_measurement")
    assert (measurement.port, measurement.probe) == (15056, "grpc")
    assert measurement.env["PRECIS_MEASUREMENT_GRPC_PORT"] == "15056"
    assert measurement.env["PRECIS_MEASUREMENT_DATABASE_URL"] == (
        f"sqlite:///{layout.root / 'measurement.db'}"
    )
    assert measurement.env["PRECIS_MEASUREMENT_PROFILE_TARGET"] == "127.0.0.1:15052"
    assert measurement.env["PRECIS_MEASUREMENT_SEGMENTATION_TARGET"] == "127.0.0.1:15054"
    # numpy / scipy / scikit-learn would otherwise start one OpenBLAS thread per CPU.
    assert measurement.env["OPENBLAS_NUM_THREADS"] == "1"
    assert by_name["gateway"].env["PRECIS_GATEWAY_MEASUREMENT_TARGET"] == "127.0.0.1:15056"
    # Started after the services it calls (and after recommendation), before the gateway.
    order = [s.name for s in specs]
    assert order.index("measurement") > max(
        order.index("profile"), order.index("segmentation"), order.index("recommendation")
    )
    assert order.index("measurement") < order.index("gateway")
    assert DEFAULT_PORTS["measurement"] == 50056


def test_measurement_reads_the_settings_the_suite_gives_it(
    layout: state.StateLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The variable names are the service's contract: its settings class reads every one."""
    specs = fixed_port_specs(layout)
    measurement = next(s for s in specs if s.name == "measurement")
    for name, value in measurement.env.items():
        monkeypatch.setenv(name, value)
    settings = MeasurementSettings()
    assert settings.measurement_grpc_port == 15056
    assert settings.database_url == f"sqlite:///{(layout.root / 'measurement.db').as_posix()}"
    assert settings.measurement_profile_target == "127.0.0.1:15052"
    assert settings.measurement_segmentation_target == "127.0.0.1:15054"
    assert settings.state_dir == layout.root


def test_the_command_line_takes_a_consent_port() -> None:
    assert build_parser().parse_args(["up"]).consent_port == 50053
    assert build_parser().parse_args(["up", "--consent-port", "6053"]).consent_port == 6053
    assert build_parser().parse_args(["up"]).segmentation_port == 50054
    parsed = build_parser().parse_args(["up", "--segmentation-port", "6054"])
    assert parsed.segmentation_port == 6054
    assert build_parser().parse_args(["up"]).measurement_port == 50056
    parsed = build_parser().parse_args(["up", "--measurement-port", "6056"])
    assert parsed.measurement_port == 6056


# Ports -----------------------------------------------------------------------------------------


def test_up_refuses_ports_taken_by_another_program(layout: state.StateLayout) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        assert port_in_use(taken)
        with pytest.raises(PortInUseError, match=rf"{taken} \(gateway\)"):
            start_suite(
                layout.root,
                gateway_port=taken,
                ingestion_port=free_port(),
                profile_port=free_port(),
                consent_port=free_port(),
                segmentation_port=free_port(),
                recommendation_port=free_port(),
                measurement_port=free_port(),
                timeout=5,
            )
    # Refused before anything started.
    assert list(layout.pids_dir.iterdir()) == []
    assert not port_in_use(taken)


# Processes -------------------------------------------------------------------------------------


def test_launch_waits_for_health_is_idempotent_and_stops(
    layout: state.StateLayout, tmp_path: Path
) -> None:
    specs = fake_specs(tmp_path)
    first = launch(layout, specs, api_key="k", timeout=30)
    assert set(first) == {"ingestion", "gateway"}
    for spec in specs:
        pid = state.read_pid(layout, spec.name)
        assert pid == first[spec.name].pid
        assert is_suite_process(pid, spec.argv)
        assert port_in_use(spec.port)
        assert layout.log_path(spec.name).exists()
    assert grpc_health(specs[0].port) == "SERVING"

    # A second up keeps the running processes instead of starting new ones.
    second = launch(layout, specs, api_key="k", timeout=30)
    assert {n: p.pid for n, p in second.items()} == {n: p.pid for n, p in first.items()}
    assert all(p.popen is None for p in second.values())

    statuses = {s.name: s for s in suite_status(layout.root)}
    assert statuses["ingestion"].health == "SERVING"
    assert statuses["gateway"].health == "READY"
    assert statuses["ingestion"].port == specs[0].port

    assert sorted(stop_suite(layout.root, timeout=5)) == ["gateway", "ingestion"]
    for spec in specs:
        assert first[spec.name].popen is not None
        assert first[spec.name].popen.wait(timeout=5) is not None
        assert not layout.pid_path(spec.name).exists()
    assert not layout.manifest_path.exists()


def test_a_process_that_dies_at_start_is_named_with_its_log(
    layout: state.StateLayout, tmp_path: Path
) -> None:
    good = fake_specs(tmp_path)[0]
    crash = ProcessSpec(
        "profile",
        (sys.executable, "-c", "import sys; print('cannot open database'); sys.exit(3)"),
        free_port(),
        "grpc",
    )
    with pytest.raises(StartupError) as caught:
        launch(layout, [good, crash], api_key="k", timeout=30)
    message = str(caught.value)
    assert "profile exited (code 3)" in message
    assert str(layout.log_path("profile")) in message
    assert "cannot open database" in message
    # What this call started is stopped again.
    assert not layout.pid_path("ingestion").exists()
    assert _eventually_free(good.port)


def test_a_process_that_never_gets_ready_times_out(
    layout: state.StateLayout, tmp_path: Path
) -> None:
    silent = ProcessSpec(
        "ingestion", (sys.executable, "-c", "import time; time.sleep(60)"), free_port(), "grpc"
    )
    with pytest.raises(StartupError, match=r"ingestion \(pid \d+\) was not ready within 2 s"):
        launch(layout, [silent], api_key="k", timeout=2)
    assert not layout.pid_path("ingestion").exists()


def test_down_kills_a_process_that_ignores_sigterm(
    layout: state.StateLayout, tmp_path: Path
) -> None:
    argv = (sys.executable, "-c", STUBBORN)
    proc = subprocess.Popen(list(argv), start_new_session=True)
    try:
        state.write_pid(layout, "profile", proc.pid)
        state.write_manifest(
            layout, {"processes": {"profile": {"pid": proc.pid, "port": 1, "argv": list(argv)}}}
        )
        time.sleep(0.3)  # let it install its SIGTERM handler
        started = time.monotonic()
        assert stop_suite(layout.root, timeout=1) == ["profile"]
        assert proc.wait(timeout=5) == -9
        assert time.monotonic() - started < 5
        assert not layout.pid_path("profile").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _eventually_free(port: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not port_in_use(port):
            return True
        time.sleep(0.1)
    return False
