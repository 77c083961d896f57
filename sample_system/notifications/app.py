"""notifications: one notification per confirmed order, from NATS JetStream (`consumer.py`).

GET /notifications?order_id=...      the notifications sent (simulated: stored, not mailed)
GET /admin/notifications             read-only, for the audit
GET /admin/consumer                  delivered / duplicates / NATS connected
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from pydantic import BaseModel, ConfigDict

from sample_system.common import config
from sample_system.common.api import ORDER_ID_PATTERN, database, open_database, service_app
from sample_system.common.background import Periodic
from sample_system.common.messaging import Messaging
from sample_system.common.openapi import errors
from sample_system.notifications.consumer import SCHEMA, Consumer, all_notifications

router = APIRouter()


class Notification(BaseModel):
    """A notification sent for a confirmed order."""

    model_config = ConfigDict(extra="allow")

    event_id: str
    order_id: str
    client: str
    message: str
    created_at: float


class Notifications(BaseModel):
    """Notifications, oldest first."""

    notifications: list[Notification]


class ConsumerState(BaseModel):
    """What the consumer has done."""

    delivered: int
    duplicates: int
    nats_connected: bool


@router.get("/notifications", response_model=Notifications, responses=errors(422))
async def list_notifications(
    request: Request,
    order_id: Annotated[str | None, Query(pattern=ORDER_ID_PATTERN)] = None,
) -> Any:
    """The notifications sent, optionally for one order."""
    rows = await database(request).read(lambda db: all_notifications(db, order_id))
    return {"notifications": rows}


@router.get("/admin/notifications", response_model=Notifications)
async def admin_notifications(request: Request) -> Any:
    """Every notification, for the audit."""
    return {"notifications": await database(request).read(lambda db: all_notifications(db, None))}


@router.get("/admin/consumer", response_model=ConsumerState)
async def admin_consumer(request: Request) -> Any:
    """What the consumer has done."""
    consumer: Consumer = request.app.state.consumer
    return {
        "delivered": consumer.delivered,
        "duplicates": consumer.duplicates,
        "nats_connected": request.app.state.messaging.connected,
    }


def create_app(environ: Mapping[str, str] | None = None) -> FastAPI:
    """The notifications service; settings from `environ` (default: the process environment)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        env = os.environ if environ is None else environ
        messaging = Messaging(
            config.urls(env, "nats", scheme="nats"), name=config.instance(env, "notifications")
        )
        async with open_database(app, env, SCHEMA) as db:
            consumer = Consumer(db, messaging)
            loop = Periodic("notifications-consumer", consumer.poll_once, interval=0.01)
            app.state.messaging, app.state.consumer = messaging, consumer
            await messaging.start()
            await loop.start()
            try:
                yield
            finally:
                await loop.stop()
                await messaging.close()

    app = service_app("notifications", lifespan, environ=environ)
    app.include_router(router)
    return app


app = create_app()
