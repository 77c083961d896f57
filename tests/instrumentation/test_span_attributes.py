"""The server span attributes gameday computes equal the ASGI instrumentation's, on any request."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.instrumentation._semconv import _StabilityMode
from opentelemetry.instrumentation.asgi import collect_request_attributes, set_status_code
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from instrumentation.span_attributes import RequestAttributes, response_status

TOKEN = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=12)
HEADER_NAMES = st.sampled_from(
    [b"host", b"user-agent", b"User-Agent", b"USER-AGENT", b"accept", b"x-user-agent", b"user-agen"]
)
HEADER_VALUES = st.one_of(
    st.sampled_from([b"curl/8.5.0", b"Googlebot/2.1", b"", b"alwayson-test", b"Mozilla/5.0"]),
    st.binary(max_size=12),
)
SCOPES = st.fixed_dictionaries(
    {
        "type": st.just("http"),
        "method": st.sampled_from(["GET", "get", "POST", "PURGE", " GET ", "", "QUERY", "PaTcH"]),
        "scheme": st.sampled_from(["http", "https", ""]),
        "http_version": st.sampled_from(["1.0", "1.1", "2", ""]),
        "path": st.one_of(st.just("/"), st.just(""), TOKEN.map(lambda t: "/" + t)),
        "query_string": st.one_of(st.just(b""), TOKEN.map(str.encode)),
        "headers": st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=4),
        "server": st.one_of(
            st.none(),
            st.tuples(st.sampled_from(["127.0.0.1", "::1", "example.test"]),
                      st.sampled_from([80, 8000, 443, None])),
        ),
        "client": st.one_of(
            st.none(),
            st.tuples(st.sampled_from(["127.0.0.1", "", "::1"]), st.sampled_from([0, 51000])),
        ),
    }
)  # fmt: skip


@pytest.mark.filterwarnings("ignore:invalid escape sequence:DeprecationWarning")  # both decode so
@settings(max_examples=400, deadline=None)
@given(SCOPES)
def test_request_attributes_equal_upstreams(scope: dict[str, Any]) -> None:
    ours = RequestAttributes()(scope)  # never raises
    try:
        expected = collect_request_attributes(scope, _StabilityMode.HTTP)  # type: ignore[no-untyped-call]
    except UnicodeDecodeError:  # upstream fails the request on a header it cannot decode
        assert any(b"\\" in value for _, value in scope["headers"])
        return
    assert ours == expected


def test_a_header_upstream_cannot_decode_is_read_as_latin1() -> None:
    scope = {"type": "http", "method": "GET", "path": "/x", "query_string": b"",
             "headers": [(b"user-agent", b"\x80\\")]}  # fmt: skip
    with pytest.raises(UnicodeDecodeError):
        collect_request_attributes(scope, _StabilityMode.HTTP)  # type: ignore[no-untyped-call]
    assert RequestAttributes()(scope)["user_agent.original"] == "\x80\\"


def test_a_query_that_is_not_utf8_does_not_fail_the_request() -> None:
    scope = {"type": "http", "method": "GET", "path": "/x", "query_string": b"q=\xff"}
    assert RequestAttributes()(scope)["url.query"] == "q=\ufffd"


def _span() -> Any:
    return TracerProvider(sampler=ALWAYS_ON).get_tracer("t").start_span("s")


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.integers(min_value=-5, max_value=1000), st.sampled_from(["200", "abc"])))
def test_response_status_equals_upstreams(status: Any) -> None:
    theirs, ours = _span(), _span()
    set_status_code(theirs, status, None, _StabilityMode.HTTP)  # type: ignore[no-untyped-call]
    response_status(ours, status)
    assert dict(ours.attributes) == dict(theirs.attributes)
    assert (ours.status.status_code, ours.status.description) == (
        theirs.status.status_code,
        theirs.status.description,
    )
