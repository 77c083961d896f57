"""Proxy bodies and --config files (pure), and Go's address rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.errors import ConfigInvalid
from chaos.proxy.address import AddressError, parse_port, split_host_port
from chaos.proxy.config import (
    ProxyInput,
    load_config_file,
    parse_create,
    parse_populate,
    parse_update,
)
from chaos.proxy.errors import ApiError


def test_create_defaults_enabled_and_requires_name_then_upstream() -> None:
    assert parse_create(b'{"name": "a", "upstream": "u:1"}') == ProxyInput("a", "", "u:1", True)
    for body, message in (
        (b"{}", "missing required field: name"),
        (b'{"name": "a"}', "missing required field: upstream"),
        (b"null", "missing required field: name"),
        (
            b"[]",
            "bad request body: json: cannot unmarshal array into Go value of type toxiproxy.Proxy",
        ),
        (
            b'{"name": 5}',
            "bad request body: json: cannot unmarshal number into Go struct field Proxy.name "
            "of type string",
        ),
    ):
        with pytest.raises(ApiError) as caught:
            parse_create(body)
        assert (caught.value.status, caught.value.message) == (400, message)


def test_update_lays_the_body_over_the_current_values_and_ignores_name() -> None:
    current = ProxyInput("a", "127.0.0.1:1", "u:1", True)
    assert parse_update(b'{"enabled": false, "name": "b"}', current) == ProxyInput(
        "a", "127.0.0.1:1", "u:1", False
    )
    assert parse_update(b'{"upstream": "v:2"}', current) == ProxyInput(
        "a", "127.0.0.1:1", "v:2", True
    )


def test_populate_checks_every_entry_and_numbers_them_from_one() -> None:
    assert parse_populate(b'[{"name": "a", "upstream": "u"}]') == [ProxyInput("a", "", "u", True)]
    with pytest.raises(ApiError) as caught:
        parse_populate(b'[{"name": "a", "upstream": "u"}, {"name": "b"}]')
    assert caught.value.message == "missing required field: upstream at proxy 2"
    with pytest.raises(ApiError) as caught:
        parse_populate(b'{"name": "a"}')
    assert caught.value.message.startswith(
        "bad request body: json: cannot unmarshal object into Go value of type []struct"
    )


def test_config_file_errors_name_the_file(tmp_path: Path) -> None:
    good = tmp_path / "proxies.json"
    good.write_text(json.dumps([{"name": "a", "upstream": "127.0.0.1:1", "listen": "127.0.0.1:0"}]))
    assert load_config_file(good)[0].name == "a"
    bad = tmp_path / "bad.json"
    bad.write_text('[{"name": "a"}]')
    with pytest.raises(
        ConfigInvalid, match=r"bad\.json: missing required field: upstream at proxy 1"
    ):
        load_config_file(bad)
    with pytest.raises(ConfigInvalid, match=r"missing\.json: cannot read"):
        load_config_file(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("address", "result"),
    [
        ("127.0.0.1:80", ("127.0.0.1", "80")),
        ("[::1]:80", ("::1", "80")),
        (":0", ("", "0")),
        ("local373", "address local373: missing port in address"),
        ("a:b:c", "address a:b:c: too many colons in address"),
        ("[::1", "address [::1: missing ']' in address"),
        ("[::1]80", "address [::1]80: missing port in address"),
    ],
)
def test_split_host_port_like_go(address: str, result: tuple[str, str] | str) -> None:
    if isinstance(result, tuple):
        assert split_host_port(address) == result
    else:
        with pytest.raises(AddressError) as caught:
            split_host_port(address)
        assert str(caught.value) == result


def test_ports_are_numbers_or_services() -> None:
    assert parse_port("") == 0
    assert parse_port("8474") == 8474
    with pytest.raises(AddressError, match="address 99999: invalid port"):
        parse_port("99999")
    with pytest.raises(AddressError, match="lookup tcp/no-such-service: unknown port"):
        parse_port("no-such-service")
