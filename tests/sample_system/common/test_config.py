"""Settings from the environment: errors name the variable, the value and the fix."""

from __future__ import annotations

import pytest

from sample_system.common import config
from sample_system.common.errors import ConfigError


def test_urls_lists_every_replica():
    env = {"PAYMENTS_URLS": "http://127.0.0.1:1, http://127.0.0.1:2/"}
    assert config.urls(env, "payments") == ("http://127.0.0.1:1", "http://127.0.0.1:2")
    assert config.urls({"NATS_URLS": "nats://127.0.0.1:4222"}, "nats", scheme="nats")


def test_missing_urls_names_the_variable_and_an_example():
    with pytest.raises(ConfigError, match=r"PAYMENTS_URLS is not set.*http://127.0.0.1:8001"):
        config.urls({}, "payments")


def test_malformed_url_is_quoted():
    with pytest.raises(ConfigError, match=r"'127.0.0.1:80'.*not a http://host:port"):
        config.urls({"SHOP_API_URLS": "127.0.0.1:80"}, "shop-api")


@pytest.mark.parametrize(
    ("raw", "message"),
    [("ten", r"X='ten' is not an integer"), ("-1", r"X=-1 is out of range")],
)
def test_integer_errors(raw: str, message: str):
    with pytest.raises(ConfigError, match=message):
        config.integer({"X": raw}, "X", 5, minimum=0)


def test_number_default_and_error():
    assert config.number({}, "Y", 1.5) == 1.5
    with pytest.raises(ConfigError, match="Y='fast' is not a number"):
        config.number({"Y": "fast"}, "Y", 1.5)


def test_pairs_parse_and_error():
    assert config.pairs({"K": "a=1, b=2"}, "K") == {"a": "1", "b": "2"}
    with pytest.raises(ConfigError, match=r"K contains 'b'.*name=value"):
        config.pairs({"K": "a=1,b"}, "K")
    with pytest.raises(ConfigError, match="K is not set"):
        config.pairs({}, "K")
