"""`gameday proxy` as a subprocess: readiness line, signals, --config, the loopback rule."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from chaos.net import free_port
from chaos.proxy import spawn_subprocess
from chaos.proxy.client import ToxiproxyClient
from tests.chaos.proxy.helpers import Peer, connect


def gameday(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chaos.cli", *args], capture_output=True, text=True, timeout=timeout
    )


def test_spawned_server_serves_and_stops_cleanly_on_sigterm(echo: Peer) -> None:
    with spawn_subprocess(stderr=subprocess.DEVNULL) as proc:
        client = ToxiproxyClient(proc.url)
        assert client.version() == "2.12.0"
        port = client.create_proxy("echo", echo.address).listen_port
        live = connect(port)
        live.sendall(b"hi")
        assert live.recv(2) == b"hi"
        assert proc.stop() == 0
        assert live.recv(1) == b""  # every connection was closed on the way out
        live.close()


def test_sigint_also_stops_cleanly() -> None:
    with spawn_subprocess(stderr=subprocess.DEVNULL) as proc:
        proc.process.send_signal(signal.SIGINT)
        assert proc.process.wait(10) == 0


def test_a_given_port_and_the_ready_line() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "chaos.cli", "proxy", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == f"gameday proxy listening on 127.0.0.1:{port}\n"
    finally:
        process.terminate()
        assert process.wait(10) == 0
        process.stdout.close()  # type: ignore[union-attr]


def test_config_file_creates_proxies_at_start(tmp_path: Path, echo: Peer) -> None:
    listen = f"127.0.0.1:{free_port()}"
    config = tmp_path / "proxies.json"
    config.write_text(json.dumps([{"name": "db", "listen": listen, "upstream": echo.address}]))
    with spawn_subprocess(args=["--config", str(config)], stderr=subprocess.DEVNULL) as proc:
        proxy = ToxiproxyClient(proc.url).get_proxy("db")
        assert (proxy.listen, proxy.enabled) == (listen, True)


def test_invalid_config_fails_naming_the_file(tmp_path: Path) -> None:
    config = tmp_path / "broken.json"
    config.write_text('[{"name": "db"}]')
    result = gameday("proxy", "--port", "0", "--config", str(config))
    assert result.returncode == 2
    assert "broken.json: missing required field: upstream at proxy 1" in result.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "example.com"])
def test_non_loopback_host_needs_allow_remote(host: str) -> None:
    result = gameday("proxy", "--host", host, "--port", "0")
    assert result.returncode == 2
    assert f"non-loopback host {host!r}" in result.stderr
    assert "--allow-remote" in result.stderr
    assert result.stdout == ""


def test_a_busy_port_is_reported_not_raised() -> None:
    with socket.create_server(("127.0.0.1", 0)) as squatter:
        port = squatter.getsockname()[1]
        result = gameday("proxy", "--port", str(port))
    assert result.returncode == 2
    assert f"listen tcp 127.0.0.1:{port}: bind: address already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_log_level_falls_back_to_info() -> None:
    env = {**os.environ, "LOG_LEVEL": "chatty"}
    with spawn_subprocess(env=env, stderr=subprocess.PIPE) as proc:
        assert ToxiproxyClient(proc.url).running()
        proc.stop()
        assert proc.process.stderr is not None
        assert b"LOG_LEVEL=CHATTY is not a level" in proc.process.stderr.read()


def test_command_module_is_light_and_documented() -> None:
    code = (
        "import sys, argparse; import chaos.proxy.cli as c; "
        "assert 'chaos.proxy.server' not in sys.modules and 'uvloop' not in sys.modules; "
        "p = argparse.ArgumentParser(); c.add_arguments(p); "
        "a = p.parse_args([]); print(c.HELP); print(a.host, a.port, a.allow_remote)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1] == "127.0.0.1 8474 False"
    assert "--allow-remote" in gameday("proxy", "--help").stdout


def test_toxiproxy_servers_own_flag_spellings_work(tmp_path: Path, echo: Peer) -> None:
    """A script written for toxiproxy-server (Go flags: one dash, `=` or a space) runs as is."""
    listen = f"127.0.0.1:{free_port()}"
    config = tmp_path / "proxies.json"
    config.write_text(json.dumps([{"name": "db", "listen": listen, "upstream": echo.address}]))
    port = free_port()
    args = ["-host", "127.0.0.1", f"-port={port}", "-config", str(config), "-proxy-metrics",
            "-runtime-metrics=false", "-seed", "42"]  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "chaos.cli", "proxy", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == f"gameday proxy listening on 127.0.0.1:{port}\n"
        client = ToxiproxyClient(f"http://127.0.0.1:{port}")
        assert client.get_proxy("db").listen == listen
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
        assert b"toxiproxy_proxy_received_bytes_total" in metrics  # -proxy-metrics
        assert b"process_cpu_seconds_total" not in metrics  # -runtime-metrics=false
    finally:
        process.terminate()
        assert process.wait(10) == 0
        process.stdout.close()  # type: ignore[union-attr]
    version = gameday("proxy", "-version")
    assert (
        version.returncode == 0
        and version.stdout == "toxiproxy-server version 2.12.0 (gameday proxy)\n"
    )
    bad = gameday("proxy", "-proxy-metrics=maybe")
    assert bad.returncode == 2 and "invalid boolean value 'maybe'" in bad.stderr
