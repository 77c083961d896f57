"""The shop's journeys say the same thing in their code, their docstrings and the docs."""

from __future__ import annotations

from tests.loadtests.shop_journeys import declared_routes, docstrings, documented_routes

JOURNEYS = {"browse", "product", "reviews", "checkout"}


def test_every_journey_declares_its_routes():
    assert set(declared_routes()) == JOURNEYS


def test_each_journey_docstring_names_every_route_it_declares():
    docs = docstrings()
    for journey, routes in declared_routes().items():
        missing = [route for route in routes if route not in docs.get(journey, "")]
        assert missing == [], f"Journeys.{journey}'s docstring does not mention {missing}"


def test_docs_loadtests_lists_the_routes_each_journey_declares():
    declared = {journey: set(routes) for journey, routes in declared_routes().items()}
    assert documented_routes() == declared
