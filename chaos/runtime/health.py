"""Readiness probes: an HTTP path that must answer 200, or a TCP port that must accept.

ok, detail = probe(plan)                      # one attempt, short timeout
wait_ready(child, timeout=60)                 # poll; RuntimeFailure names the service,
                                              # the last answer and the tail of its log
"""

from __future__ import annotations

import http.client
import socket
import time

from chaos.errors import RuntimeFailure
from chaos.net import LOOPBACK
from chaos.runtime.process import Child, tail
from chaos.system.topology import ProcessPlan

TCP = "tcp"


def probe(plan: ProcessPlan, timeout: float = 1.0) -> tuple[bool, str]:
    """One readiness check of `plan`: (ready?, what was seen)."""
    return check(plan.port, plan.health, timeout)


def check(port: int, health: str, timeout: float = 1.0) -> tuple[bool, str]:
    """One readiness check of 127.0.0.1:`port`: `health` is tcp or an HTTP path."""
    if health == TCP:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=timeout):
                return True, "accepts connections"
        except OSError as exc:
            return False, f"tcp {LOOPBACK}:{port}: {exc.strerror or exc}"
    url = f"http://{LOOPBACK}:{port}{health}"
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        connection.request("GET", health, headers={"User-Agent": "gameday-runtime"})
        response = connection.getresponse()
        body = response.read(200).decode("utf-8", "replace").strip()
    except (OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return False, f"GET {url}: {reason}"
    finally:
        connection.close()
    if response.status == 200:
        return True, "200"
    return False, f"GET {url} answered {response.status} {body[:120]}"


def describe(plan: ProcessPlan) -> str:
    """'service payments replica 1' / 'infrastructure nats'."""
    if plan.infrastructure:
        return f"{plan.service}"
    return f"service {plan.service} replica {plan.replica}"


def wait_ready(child: Child, timeout: float, interval: float = 0.05) -> None:
    """Poll until `child` is ready; RuntimeFailure when it exits or the deadline passes."""
    plan = child.plan
    deadline = time.monotonic() + timeout
    seen = "not probed yet"
    while True:
        code = child.exit_code()
        if code is not None:
            raise RuntimeFailure(
                f"{describe(plan)} exited with code {code} before it was ready "
                f"({' '.join(plan.argv)}); last lines of {plan.log}:\n{tail(plan.log)}"
            )
        ok, seen = probe(plan, timeout=min(1.0, max(0.05, deadline - time.monotonic())))
        if ok:
            return
        if time.monotonic() >= deadline:
            what = "an HTTP 200" if plan.health != TCP else "a TCP connection"
            raise RuntimeFailure(
                f"{describe(plan)} was not ready within {timeout:.0f}s (waiting for {what}; "
                f"last: {seen}); fix the service or raise the ready timeout; last lines of "
                f"{plan.log}:\n{tail(plan.log)}"
            )
        time.sleep(interval)
