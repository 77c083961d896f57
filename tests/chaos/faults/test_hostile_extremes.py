"""The extreme-integer rewrite of an OpenAPI document (pure)."""

from __future__ import annotations

from typing import Any

from chaos.faults.hostile_extremes import HUGE, extreme_document


def document(**components: Any) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/items": {
                "get": {
                    "parameters": [
                        {
                            "name": "offset",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 0, "default": 0},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 50},
                        },
                    ],
                    "responses": {"200": {"description": "ok"}},
                },
                "post": {
                    "requestBody": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Item"}}
                        }
                    },
                    "responses": {"201": {"description": "ok"}},
                },
            },
            "/items/{kind}": {
                "get": {
                    "parameters": [
                        {
                            "name": "kind",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "enum": [1, 2]},
                        },
                        {
                            "name": "below",
                            "in": "query",
                            "schema": {"type": "integer", "maximum": 10},
                        },
                    ],
                    "responses": {"200": {"description": "ok"}},
                },
            },
            "/count": {
                "get": {
                    "responses": {
                        "200": {"content": {"application/json": {"schema": {"type": "integer"}}}}
                    }
                }
            },
        },
        "components": {
            "schemas": components
            or {"Item": {"type": "object", "properties": {"n": {"type": ["integer", "null"]}}}}
        },
    }


def test_unbounded_integers_go_past_64_bits_and_bounded_ones_stay() -> None:
    original = document()
    extreme, _ = extreme_document(original)

    offset, limit = extreme["paths"]["/items"]["get"]["parameters"]
    assert offset["schema"] == {"type": "integer", "minimum": HUGE}  # the default is out of range
    assert offset["required"] is True  # else it would be left out half the time
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 50}
    assert "required" not in limit
    kind, below = extreme["paths"]["/items/{kind}"]["get"]["parameters"]
    assert kind["schema"] == {"type": "integer", "enum": [1, 2]}
    assert below["schema"] == {"type": "integer", "maximum": -HUGE - 1}
    assert extreme["components"]["schemas"]["Item"]["properties"]["n"]["minimum"] == HUGE
    assert original["paths"]["/items"]["get"]["parameters"][0]["schema"]["minimum"] == 0  # a copy


def test_the_operations_are_those_whose_input_reaches_an_unbounded_integer() -> None:
    _, operations = extreme_document(document())

    # POST /items through its body's $ref; GET /count only answers an integer: not an input.
    assert operations == {("GET", "/items"), ("POST", "/items"), ("GET", "/items/{kind}")}


def test_a_document_without_unbounded_integers_has_no_extreme_operation() -> None:
    bounded = {"Item": {"type": "object", "properties": {"n": {"type": "string"}}}}
    doc = document(**bounded)
    for path in ("/items", "/items/{kind}"):
        del doc["paths"][path]["get"]
    _, operations = extreme_document(doc)

    assert operations == set()
