"""One shop with the clean data set for every audit test here; each test gets it clean."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sample_system.audit.shopdata import ShopData, audited_shop


@pytest.fixture(scope="package")
def clean_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShopData]:
    with audited_shop(tmp_path_factory.mktemp("audited")) as data:
        yield data


@pytest.fixture
def data(clean_shop: ShopData) -> Iterator[ShopData]:
    """The shop with its clean data; whatever a test plants is undone after it."""
    try:
        yield clean_shop
    finally:
        clean_shop.restore()
