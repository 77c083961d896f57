"""Proxy definitions as the API and `--config` files carry them, validated before anything acts.

Pure: bytes in, `ProxyInput` values or an `ApiError` out, with Toxiproxy's defaults (`enabled`
true) and messages (`missing required field: upstream at proxy 2`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chaos.errors import ConfigInvalid
from chaos.proxy import errors, gojson
from chaos.proxy.errors import ApiError
from chaos.proxy.gojson import GoJSONError, Pairs, TypeErrors

_FIELDS = ["name", "listen", "upstream", "enabled"]
_POPULATE_TYPE = '[]struct { toxiproxy.Proxy; Enabled *bool "json:\\"enabled\\"" }'


@dataclass(frozen=True)
class ProxyInput:
    """A proxy as a request defines it: `listen` is as sent, not yet resolved."""

    name: str
    listen: str
    upstream: str
    enabled: bool = True


def _decode_fields(obj: object, base: ProxyInput, struct: str, problems: TypeErrors) -> ProxyInput:
    if not isinstance(obj, Pairs):
        return base
    picked = gojson.fields(obj, _FIELDS)

    def where(field: str) -> str:
        return gojson.field_where(struct, (field,))

    return ProxyInput(
        name=gojson.as_string(picked.get("name"), base.name, where("name"), problems),
        listen=gojson.as_string(picked.get("listen"), base.listen, where("listen"), problems),
        upstream=gojson.as_string(
            picked.get("upstream"), base.upstream, where("upstream"), problems
        ),
        enabled=gojson.as_bool(picked.get("enabled"), base.enabled, where("enabled"), problems),
    )


def _decode(body: bytes) -> object:
    try:
        return gojson.decode(body)
    except GoJSONError as exc:
        raise errors.bad_request_body(str(exc)) from None


def _raise_first(problems: TypeErrors) -> None:
    try:
        problems.raise_first()
    except GoJSONError as exc:
        raise errors.bad_request_body(str(exc)) from None


def parse_create(body: bytes) -> ProxyInput:
    """A `POST /proxies` body: decode, then `name`, then `upstream` are required."""
    value = _decode(body)
    problems = TypeErrors()
    if value is not None and not isinstance(value, Pairs):
        problems.add(gojson.kind_of(value), "Go value", "toxiproxy.Proxy")
    proxy = _decode_fields(value, ProxyInput("", "", "", True), "Proxy", problems)
    _raise_first(problems)
    if not proxy.name:
        raise errors.missing_field("name")
    if not proxy.upstream:
        raise errors.missing_field("upstream")
    return proxy


def parse_update(body: bytes, current: ProxyInput) -> ProxyInput:
    """A `POST|PATCH /proxies/{p}` body laid over the current listen/upstream/enabled.

    The name in the body is decoded (so a wrong type is still a 400) but never applied.
    """
    value = _decode(body)
    problems = TypeErrors()
    if value is not None and not isinstance(value, Pairs):
        problems.add(gojson.kind_of(value), "Go value", "toxiproxy.Proxy")
    merged = _decode_fields(value, current, "Proxy", problems)
    _raise_first(problems)
    return ProxyInput(current.name, merged.listen, merged.upstream, merged.enabled)


def parse_populate(body: bytes) -> list[ProxyInput]:
    """A `/populate` body (a JSON array): every entry is checked before anything is created."""
    value = _decode(body)
    problems = TypeErrors()
    proxies: list[ProxyInput] = []
    if isinstance(value, list) and not isinstance(value, Pairs):
        for item in value:
            if item is not None and not isinstance(item, Pairs):
                problems.add(gojson.kind_of(item), "Go value", _POPULATE_TYPE)
            proxies.append(_decode_fields(item, ProxyInput("", "", "", True), "", problems))
    elif value is not None:
        problems.add(gojson.kind_of(value), "Go value", _POPULATE_TYPE)
    _raise_first(problems)
    for number, proxy in enumerate(proxies, start=1):
        if not proxy.name:
            raise errors.missing_field(f"name at proxy {number}")
        if not proxy.upstream:
            raise errors.missing_field(f"upstream at proxy {number}")
    return proxies


def load_config_file(path: str | Path) -> list[ProxyInput]:
    """The proxies of a `--config` file (same rules as /populate); ConfigInvalid names the file."""
    file = Path(path)
    try:
        body = file.read_bytes()
    except OSError as exc:
        raise ConfigInvalid(
            f"{file}: cannot read the proxy config: {exc.strerror or exc}"
        ) from None
    try:
        return parse_populate(body)
    except ApiError as exc:
        raise ConfigInvalid(
            f"{file}: {exc.message}; expected a JSON array of "
            '{"name": ..., "listen": "127.0.0.1:PORT", "upstream": "HOST:PORT", "enabled": true}'
        ) from None
