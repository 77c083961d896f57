import asyncio

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from instrumentation import instrument
from tests.support import serve_in_thread


def test_healthz_and_readyz_with_pluggable_checks() -> None:
    app = FastAPI()
    state = {"db": True}

    async def slow() -> bool:
        await asyncio.sleep(5)
        return True

    handle = instrument(
        app, "h", registry=CollectorRegistry(), json_logs=False, readiness_timeout=0.2
    )
    handle.add_readiness_check("db", lambda: state["db"])
    with serve_in_thread(app) as url:
        assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "checks": {"db": "ok"}}

        state["db"] = False
        not_ready = httpx.get(f"{url}/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["checks"] == {"db": "failed"}

        def broken() -> bool:
            raise ConnectionError("database unreachable")

        handle.add_readiness_check("db", broken)
        handle.add_readiness_check("cache", slow)
        body = httpx.get(f"{url}/readyz").json()
        assert body["checks"]["db"] == "ConnectionError: database unreachable"
        assert body["checks"]["cache"] == "timed out after 0.2s"
