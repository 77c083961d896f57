"""What the audit reads: every row of every audited table, as lists (never keyed by an id).

Rows stay lists so that a second row for one id is seen, not overwritten: the invariants
count rows per order themselves (`view.py`). Each row type parses one element of an admin
API's answer and names the field that is missing or of the wrong type.

Orders are read twice, first and last (`orders_first`, `orders`): an order decided (confirmed
or failed) in the first read was decided before anything else was read, so what the other
services hold for it is final; an order that appears only in the last read was created while
the audit was reading, so rows about it elsewhere are not orphans.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Self, TypeVar

R = TypeVar("R")


class RowInvalid(ValueError):
    """A row from an admin API lacks a field or has one of the wrong type."""


def _field(raw: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    try:
        value = raw[name]
    except (KeyError, TypeError):
        raise RowInvalid(f"no field {name!r} in {str(raw)[:200]}") from None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RowInvalid(f"field {name!r} is {value!r}, not {kind}, in {str(raw)[:200]}")
    return value


_TYPES: dict[str, type] = {"str": str, "int": int, "bool": bool}


class _Row:
    """A row whose fields are all str, int or bool: parsed field by field, by name."""

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Self:
        """From one element of an admin API's list."""
        found = {f.name: _field(raw, f.name, _TYPES[str(f.type)]) for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**found)


@dataclass(frozen=True)
class Line:
    """One line of an order: a product, how many, at what unit price."""

    product_id: int
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class OrderRow:
    """An order as orders stores it."""

    order_id: str
    state: str
    step: str
    reason: str
    client: str
    idempotency_key: str
    items: tuple[Line, ...]
    total_cents: int
    created_at: float
    updated_at: float

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> OrderRow:
        """From one element of `GET /admin/orders`."""
        items = tuple(
            Line(
                _field(i, "product_id", int),
                _field(i, "quantity", int),
                _field(i, "unit_price_cents", int),
            )
            for i in _field(raw, "items", list)
        )
        return cls(
            order_id=_field(raw, "order_id", str),
            state=_field(raw, "state", str),
            step=_field(raw, "step", str),
            reason=_field(raw, "reason", str),
            client=_field(raw, "client", str),
            idempotency_key=_field(raw, "idempotency_key", str),
            items=items,
            total_cents=_field(raw, "total_cents", int),
            created_at=float(_field(raw, "created_at", (int, float))),
            updated_at=float(_field(raw, "updated_at", (int, float))),
        )


@dataclass(frozen=True)
class EventRow:
    """An event in orders' outbox (`order_id` None when its payload names no order)."""

    event_id: str
    subject: str
    order_id: str | None
    published: bool

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> EventRow:
        """From one element of `GET /admin/outbox/events`."""
        order_id = raw.get("order_id")
        return cls(
            event_id=_field(raw, "event_id", str),
            subject=_field(raw, "subject", str),
            order_id=order_id if isinstance(order_id, str) else None,
            published=_field(raw, "published", bool),
        )


@dataclass(frozen=True)
class ChargeRow(_Row):
    """A charge as payments stores it."""

    order_id: str
    state: str
    amount_cents: int


@dataclass(frozen=True)
class ReservationRow(_Row):
    """A reservation as inventory stores it (its lines are `ItemRow`s)."""

    order_id: str
    state: str


@dataclass(frozen=True)
class ItemRow(_Row):
    """One reserved line: an order holds `quantity` units of a product."""

    order_id: str
    product_id: int
    quantity: int


@dataclass(frozen=True)
class StockRow(_Row):
    """A product's stock: units it started with and units still available."""

    product_id: int
    initial: int
    available: int


@dataclass(frozen=True)
class NotificationRow(_Row):
    """A notification sent (stored) by notifications."""

    event_id: str
    order_id: str
    client: str


@dataclass(frozen=True)
class Snapshot:
    """Every audited row, in the order the audit read them (orders first and again last)."""

    orders_first: list[OrderRow]
    events: list[EventRow]
    charges: list[ChargeRow]
    reservations: list[ReservationRow]
    items: list[ItemRow]
    stock: list[StockRow]
    notifications: list[NotificationRow]
    orders: list[OrderRow]  # read last: the latest states

    def pending(self) -> list[str]:
        """Ids of orders pending in the last read."""
        return [o.order_id for o in self.orders if o.state == "pending"]


def parse_rows(rows: object, parse: Callable[[Mapping[str, Any]], R], where: str) -> list[R]:
    """Every element of an admin API's list through `parse`; `RowInvalid` names `where`."""
    if not isinstance(rows, list):
        raise RowInvalid(f"{where}: expected a list of rows, got {str(rows)[:200]}")
    try:
        return [parse(row) for row in rows]
    except RowInvalid as exc:
        raise RowInvalid(f"{where}: {exc}") from None
