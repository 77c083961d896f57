"""The whole shop in one test process: each service a real uvicorn server in a thread.

    with running_shop(tmp_path) as shop:
        httpx.get(shop.urls["gateway"] + "/api/products")

Services start in dependency order with the URLs of the ones started before; `overrides`
replace a service's URL (a dead port, to play "down") or add settings per service.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI

from chaos.net import LOOPBACK, free_port
from sample_system.catalog.app import create_app as catalog_app
from sample_system.gateway.app import create_app as gateway_app
from sample_system.inventory.app import create_app as inventory_app
from sample_system.notifications.app import create_app as notifications_app
from sample_system.orders.app import create_app as orders_app
from sample_system.payments.app import create_app as payments_app
from sample_system.reviews.app import create_app as reviews_app
from tests.sample_system.servers import SECRET_SETTING, nats_server, serve

API_KEY = "test-key"

FACTORIES: dict[str, Callable[[Mapping[str, str]], FastAPI]] = {
    "catalog": catalog_app,
    "reviews": reviews_app,
    "inventory": inventory_app,
    "payments": payments_app,
    "orders": orders_app,
    "notifications": notifications_app,
    "gateway": gateway_app,
}
DEPENDS = {
    "orders": ("catalog", "inventory", "payments", "nats"),
    "notifications": ("nats",),
    "gateway": ("catalog", "inventory", "reviews", "orders"),
}
DEFAULTS = {
    "payments": {"PROCESSOR_LATENCY_MS": "1-3"},
    "orders": {"ORDERS_RELAY_INTERVAL_S": "0.05"},
    "gateway": {"GATEWAY_API_KEYS": f"tester={API_KEY}"},
}


@dataclass
class Shop:
    """The running services' base URLs (and NATS's), and where their data lives."""

    data_dir: Path
    urls: dict[str, str] = field(default_factory=dict)

    def env_for(self, service: str, settings: Mapping[str, str]) -> dict[str, str]:
        """The environment `service` gets: data dir, callee URLs, defaults, `settings`."""
        env = {"GAMEDAY_DATA_DIR": str(self.data_dir), "GAMEDAY_SERVICE": service}
        env.update(SECRET_SETTING)
        for dependency in DEPENDS.get(service, ()):
            env[dependency.upper() + "_URLS"] = self.urls[dependency]
        return {**env, **DEFAULTS.get(service, {}), **settings}


def dead_url(scheme: str = "http") -> str:
    """An address where nothing listens: a service that is down."""
    return f"{scheme}://{LOOPBACK}:{free_port()}"


@contextmanager
def running_shop(
    tmp_path: Path,
    services: tuple[str, ...] = tuple(FACTORIES),
    *,
    urls: Mapping[str, str] | None = None,
    settings: Mapping[str, Mapping[str, str]] | None = None,
) -> Iterator[Shop]:
    """Start `services` (and NATS if one needs it) unless `urls` names them already."""
    shop = Shop(tmp_path / "data", dict(urls or {}))
    with ExitStack() as stack:
        needs_nats = any("nats" in DEPENDS.get(s, ()) for s in services)
        if needs_nats and "nats" not in shop.urls:
            shop.urls["nats"], _ = stack.enter_context(nats_server(tmp_path / "nats"))
        for service in FACTORIES:
            if service in services and service not in shop.urls:
                env = shop.env_for(service, (settings or {}).get(service, {}))
                shop.urls[service] = stack.enter_context(serve(FACTORIES[service](env)))
        yield shop
