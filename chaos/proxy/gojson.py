"""JSON read and written the way Toxiproxy's Go `encoding/json` does it.

Clients of the real Toxiproxy see Go's decoder at work, so the embedded server copies the parts
that show through the API:

* only the first JSON value of a body is read; whatever follows it is ignored;
* object keys match field names case-insensitively, the last matching key wins, unknown keys
  are ignored and `null` leaves a field at its default;
* a value of the wrong type does not stop decoding: the first such error is reported, worded
  as Go words it (`json: cannot unmarshal number 1.5 into Go struct field ... of type int64`);
* syntax errors read `EOF`, `unexpected EOF` or `invalid character 'x' looking for ...`;
* output is compact, escapes `<`, `>`, `&`, U+2028 and U+2029, and prints float32 values in
  their shortest form (`0.2`, not `0.20000000298023224`).

Everything here is pure: bytes in, values or error text out.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Final

INT_BITS: Final = {"int64": 64, "int": 64}
MAX_DEPTH: Final = 10_000


class GoJSONError(ValueError):
    """A body could not be decoded; `str()` is the text Go's encoding/json would print."""


class Number:
    """A JSON number kept as its literal text, so ints, floats and overflow behave as in Go."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Number({self.text!r})"


class Pairs(list[tuple[str, object]]):
    """A JSON object as its key/value pairs in document order (duplicates kept)."""


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(text: str) -> str:
    # Go turns a lone surrogate escape into U+FFFD; Python would keep it and fail to encode.
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def _reject_constant(name: str) -> object:
    raise ValueError(f"constant {name}")


class _Decoder(json.JSONDecoder):
    def __init__(self) -> None:
        super().__init__(
            object_pairs_hook=lambda pairs: Pairs(
                (_clean(k), _clean(v) if isinstance(v, str) else v) for k, v in pairs
            ),
            parse_float=Number,
            parse_int=Number,
            parse_constant=_reject_constant,
            strict=True,
        )


_DECODER: Final = _Decoder()
_WHITESPACE: Final = " \t\n\r"


def decode(body: bytes) -> object:
    """Parse the first JSON value of `body`; raise GoJSONError with Go's wording."""
    text = body.decode("utf-8", errors="replace")
    start = len(text) - len(text.lstrip(_WHITESPACE))
    if start == len(text):
        raise GoJSONError("EOF")
    try:
        value, _end = _DECODER.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        raise GoJSONError(_syntax_message(text, exc)) from None
    except ValueError:  # NaN / Infinity, which Go does not accept
        raise GoJSONError(
            f"invalid character {_quote_char(text, _constant_at(text, start))} "
            "looking for beginning of value"
        ) from None
    except RecursionError:
        raise GoJSONError("exceeded max depth") from None
    return _clean(value) if isinstance(value, str) else value


def _constant_at(text: str, start: int) -> int:
    for word in ("NaN", "Infinity", "-Infinity"):
        at = text.find(word, start)
        if at >= 0:
            return at + (1 if word.startswith("-") else 0)
    return start


def _quote_char(text: str, pos: int) -> str:
    raw = text[pos].encode("utf-8")[:1]  # Go reports the offending byte, read as a rune
    char = chr(raw[0]) if raw else "\ufffd"
    if char == "'":
        return "'\\''"
    if char == '"':
        return "'\"'"
    quoted = json.dumps(char)[1:-1] if ord(char) < 0x20 else char
    return f"'{quoted}'"


def _container_at(text: str, pos: int) -> str:
    """'{' or '[' for the innermost open container at `pos` (strings skipped)."""
    stack: list[str] = []
    in_string = escaped = False
    for char in text[:pos]:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            stack.append(char)
        elif char in "}]" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def _literal_message(text: str, pos: int) -> str:
    if text[pos] == "-":
        if pos + 1 >= len(text):
            return "unexpected EOF"
        return f"invalid character {_quote_char(text, pos + 1)} in numeric literal"
    word = {"t": "true", "f": "false", "n": "null"}[text[pos]]
    for offset, expected in enumerate(word):
        at = pos + offset
        if at >= len(text):
            return "unexpected EOF"
        if text[at] != expected:
            char = _quote_char(text, at)
            return f"invalid character {char} in literal {word} (expecting '{expected}')"
    return f"invalid character {_quote_char(text, pos)} looking for beginning of value"


_CONTEXTS: Final = {
    "Expecting value": "looking for beginning of value",
    "Expecting property name enclosed in double quotes": (
        "looking for beginning of object key string"
    ),
    "Expecting ':' delimiter": "after object key",
}


def _syntax_message(text: str, exc: json.JSONDecodeError) -> str:
    pos = exc.pos
    if exc.msg.startswith("Unterminated string") or pos >= len(text.rstrip(_WHITESPACE)):
        return "unexpected EOF"
    if exc.msg.startswith("Invalid \\escape"):
        char = _quote_char(text, min(pos + 1, len(text) - 1))
        return f"invalid character {char} in string escape code"
    if exc.msg.startswith("Invalid \\u"):
        return f"invalid character {_quote_char(text, pos)} in \\u hexadecimal character escape"
    if exc.msg.startswith("Invalid control character"):
        return f"invalid character {_quote_char(text, pos)} in string literal"
    if exc.msg == "Expecting value" and text[pos] in "tfn-":
        return _literal_message(text, pos)
    context = _CONTEXTS.get(exc.msg)
    if context is None:
        container = _container_at(text, pos)
        context = "after object key:value pair" if container == "{" else "after array element"
    return f"invalid character {_quote_char(text, pos)} {context}"


# ---------------------------------------------------------------------------------------------
# Typed decoding of parsed values


def kind_of(value: object) -> str:
    """The JSON kind Go names in its type errors."""
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Number):
        return "number"
    if isinstance(value, Pairs):
        return "object"
    if isinstance(value, list):
        return "array"
    return "null"


class TypeErrors:
    """Collects type errors while decoding continues; Go reports the first one."""

    __slots__ = ("first",)

    def __init__(self) -> None:
        self.first: str | None = None

    def add(self, value_desc: str, where: str, go_type: str) -> None:
        if self.first is None:
            self.first = f"json: cannot unmarshal {value_desc} into {where} of type {go_type}"

    def raise_first(self) -> None:
        if self.first is not None:
            raise GoJSONError(self.first)


def field_where(struct: str, path: Sequence[str]) -> str:
    """How Go names a struct field in a type error: `Go struct field Proxy.name`."""
    return f"Go struct field {struct}.{'.'.join(path)}"


def fields(obj: Pairs, names: Sequence[str]) -> dict[str, object]:
    """Pick `names` out of an object as Go does: case-insensitive keys, last key wins."""
    folded = {name.casefold(): name for name in names}
    picked: dict[str, object] = {}
    for key, value in obj:
        name = key if key in names else folded.get(key.casefold())
        if name is not None:
            picked[name] = value
    return picked


def as_string(value: object, default: str, where: str, errors: TypeErrors) -> str:
    """Decode a Go string field (`null` keeps the default)."""
    if value is None:
        return default
    if isinstance(value, str):
        return value
    errors.add(kind_of(value), where, "string")
    return default


def as_bool(value: object, default: bool, where: str, errors: TypeErrors) -> bool:
    """Decode a Go bool field."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    errors.add(kind_of(value), where, "bool")
    return default


_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)\Z")


def as_int(value: object, default: int, where: str, go_type: str, errors: TypeErrors) -> int:
    """Decode a Go int64/int field: `1.0`, `1e3` and out-of-range values are type errors."""
    if value is None:
        return default
    if isinstance(value, Number):
        if _INTEGER.match(value.text):
            number = int(value.text)
            bits = INT_BITS[go_type]
            if -(1 << (bits - 1)) <= number < (1 << (bits - 1)):
                return number
        errors.add(f"number {value.text}", where, go_type)
        return default
    errors.add(kind_of(value), where, go_type)
    return default


def to_float32(number: float) -> float | None:
    """Round to the nearest float32, or None when out of float32 range."""
    try:
        packed = struct.pack("<f", number)
    except OverflowError:
        return None
    result: float = struct.unpack("<f", packed)[0]
    return result


def as_float32(value: object, default: float, where: str, errors: TypeErrors) -> float:
    """Decode a Go float32 field."""
    if value is None:
        return default
    if isinstance(value, Number):
        rounded = to_float32(float(value.text))
        if rounded is not None:
            return rounded
        errors.add(f"number {value.text}", where, "float32")
        return default
    errors.add(kind_of(value), where, "float32")
    return default


# ---------------------------------------------------------------------------------------------
# Encoding


class Float32(float):
    """A float that is printed as Go prints a float32."""

    __slots__ = ()


def format_float32(number: float) -> str:
    """Shortest text that reads back as the same float32, in Go's 'f' or 'e' layout."""
    if number == 0:
        return "-0" if str(number).startswith("-") else "0"
    digits = repr(number)
    for precision in range(1, 10):
        candidate = f"{number:.{precision}g}"
        if to_float32(float(candidate)) == number:
            digits = candidate
            break
    magnitude = abs(number)
    if 1e-6 <= magnitude < 1e21:
        text = format(Decimal(digits), "f")
        return text[:-2] if text.endswith(".0") else text
    mantissa, _, exponent = f"{Decimal(digits):e}".partition("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    sign, power = exponent[0], int(exponent[1:])
    # strconv pads the exponent to two digits; encoding/json strips that pad for e-0N only.
    return f"{mantissa}e{sign}{power}" if sign == "-" else f"{mantissa}e+{power:02d}"


_HTML = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def _encode_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).translate(_HTML)


def encode(value: object) -> str:
    """Serialise as Go's json.Marshal does (compact, HTML-safe, float32-aware)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _encode_string(value)
    if isinstance(value, Float32):
        return format_float32(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Mapping):
        items = ",".join(f"{_encode_string(str(k))}:{encode(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(encode(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__}")
