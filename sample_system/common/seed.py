"""The shop's demo data: the products every fresh system starts with.

Catalog seeds their names and prices, inventory their stock, each into its own database; this
module is shared like a fixture file, not a database.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SeedProduct:
    """A product of the demo catalog."""

    id: int
    name: str
    description: str
    price_cents: int


SEED_PRODUCTS: tuple[SeedProduct, ...] = (
    SeedProduct(1, "Chaos Monkey plush", "Soft, cuddly, terminates instances.", 1999),
    SeedProduct(2, "Circuit breaker mug", "Opens after five coffees.", 1299),
    SeedProduct(3, "Bulkhead lunchbox", "Compartments that never leak into each other.", 2499),
    SeedProduct(4, "Retry budget notebook", "Only twenty percent of the pages are spares.", 899),
    SeedProduct(5, "Idempotency key ring", "Open the same door twice, it opens once.", 1499),
    SeedProduct(6, "Dead letter stationery", "For messages that could not be delivered.", 699),
    SeedProduct(7, "Latency socks", "Add 200 ms of jitter to every step.", 1199),
    SeedProduct(8, "Outbox planter", "Grows events, ships them eventually.", 3499),
    SeedProduct(9, "Tail latency hoodie", "Warm up to the 99th percentile.", 4999),
    SeedProduct(10, "Saga bookmark", "Compensates for pages you should not have read.", 499),
    SeedProduct(11, "Backpressure cushion", "Pushes back when you sit too hard.", 2999),
    SeedProduct(12, "Game day poster", "Hypothesis, blast radius, rollback.", 1599),
)
