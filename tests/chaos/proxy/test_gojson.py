"""Go encoding/json behaviour as seen through the API: decoding, errors, encoding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaos.proxy import gojson
from chaos.proxy.gojson import GoJSONError, Pairs, TypeErrors


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "EOF"),
        (b"   \n", "EOF"),
        (b'{"name": "x"', "unexpected EOF"),
        (b'{"name": "x', "unexpected EOF"),
        (b"abc", "invalid character 'a' looking for beginning of value"),
        (b"{name: 1}", "invalid character 'n' looking for beginning of object key string"),
        (b'{"a" 1}', "invalid character '1' after object key"),
        (b'{"a": 1 "b": 2}', "invalid character '\"' after object key:value pair"),
        (b"[1 2]", "invalid character '2' after array element"),
        (b"NaN", "invalid character 'N' looking for beginning of value"),
        (b"nope", "invalid character 'o' in literal null (expecting 'u')"),
        (b"tru", "unexpected EOF"),
        (b"-x", "invalid character 'x' in numeric literal"),
        (b'{"a": "\\q"}', "invalid character 'q' in string escape code"),
    ],
)
def test_syntax_errors_read_like_go(body: bytes, message: str) -> None:
    with pytest.raises(GoJSONError) as caught:
        gojson.decode(body)
    assert str(caught.value) == message


def test_only_the_first_value_is_read() -> None:
    value = gojson.decode(b' {"a": 1} trailing garbage')
    assert isinstance(value, Pairs)
    assert value[0][0] == "a"


def test_fields_match_case_insensitively_and_the_last_key_wins() -> None:
    value = gojson.decode(b'{"NAME": "a", "Name": "b", "unknown": 1, "upstream": "u"}')
    assert isinstance(value, Pairs)
    assert gojson.fields(value, ["name", "upstream"]) == {"name": "b", "upstream": "u"}


def test_type_errors_are_collected_and_the_first_reported() -> None:
    problems = TypeErrors()
    assert (
        gojson.as_string(gojson.Number("5"), "kept", "Go struct field Proxy.name", problems)
        == "kept"
    )
    gojson.as_bool("yes", True, "Go struct field Proxy.enabled", problems)
    assert (
        problems.first
        == "json: cannot unmarshal number into Go struct field Proxy.name of type string"
    )


@pytest.mark.parametrize(
    ("literal", "ok"),
    [
        ("1", True),
        ("-9223372036854775808", True),
        ("9223372036854775808", False),
        ("1.0", False),
        ("1e3", False),
    ],
)
def test_integers_follow_go_int64_rules(literal: str, ok: bool) -> None:
    problems = TypeErrors()
    result = gojson.as_int(gojson.Number(literal), 0, "Go struct field T.x", "int64", problems)
    if ok:
        assert result == int(literal) and problems.first is None
    else:
        assert (
            problems.first
            == f"json: cannot unmarshal number {literal} into Go struct field T.x of type int64"
        )


def test_null_keeps_defaults() -> None:
    problems = TypeErrors()
    assert gojson.as_bool(None, True, "w", problems) is True
    assert gojson.as_int(None, 7, "w", "int64", problems) == 7
    assert problems.first is None


def test_float32_overflow_is_a_type_error() -> None:
    problems = TypeErrors()
    gojson.as_float32(gojson.Number("1e39"), 1.0, "Go struct field ToxicWrapper.toxicity", problems)
    assert problems.first == (
        "json: cannot unmarshal number 1e39 into Go struct field ToxicWrapper.toxicity "
        "of type float32"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (0.5, "0.5"),
        (0.2, "0.2"),
        (0.1, "0.1"),
        (100000.0, "100000"),
        (1e-7, "1e-7"),
        (3e38, "3e+38"),
    ],
)
def test_float32_prints_shortest_like_go(value: float, text: str) -> None:
    f32 = gojson.to_float32(value)
    assert f32 is not None
    assert gojson.format_float32(f32) == text


@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_float32_text_reads_back_exactly(value: float) -> None:
    assert gojson.to_float32(float(gojson.format_float32(value))) == value


def test_encoding_is_compact_and_html_safe() -> None:
    assert (
        gojson.encode({"a": [1, True, None], "b": "<&>\u2028"})
        == '{"a":[1,true,null],"b":"\\u003c\\u0026\\u003e\\u2028"}'
    )


def test_lone_surrogates_become_replacement_characters() -> None:
    value = gojson.decode(b'{"name": "a\\ud800b"}')
    assert isinstance(value, Pairs)
    assert value[0][1] == "a\ufffdb"
    assert gojson.encode(value[0][1]) == '"a\ufffdb"'
