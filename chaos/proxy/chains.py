"""The toxics of one proxy: an ordered chain per direction, applied to every live link.

Toxiproxy keeps a chain per direction in the order toxics were added; names are unique across
both. Every change is applied at once to the links that carry traffic (see `link`).
"""

from __future__ import annotations

from collections.abc import Iterable

from chaos.proxy.link import Link
from chaos.proxy.toxics import Direction, Toxic


class ToxicChains:
    """Toxics by direction (upstream chain, downstream chain) and the links they act on."""

    def __init__(self) -> None:
        self.chains: tuple[list[Toxic], list[Toxic]] = ([], [])
        self.links: set[Link] = set()

    def all(self) -> list[Toxic]:
        """Upstream toxics in chain order, then downstream ones (the API's order)."""
        return [*self.chains[Direction.UPSTREAM], *self.chains[Direction.DOWNSTREAM]]

    def find(self, name: str) -> Toxic | None:
        """The toxic called `name` in either direction."""
        return next((t for t in self.all() if t.name == name), None)

    def _links(self, direction: Direction) -> list[Link]:
        return [link for link in self.links if link.direction == direction]

    def attach(self, links: Iterable[Link]) -> None:
        """Start applying changes to these links."""
        self.links.update(links)

    def detach(self, links: Iterable[Link]) -> None:
        """Forget links that are finished."""
        self.links.difference_update(links)

    def add(self, toxic: Toxic) -> None:
        """Append to its direction's chain and to every live link of that direction."""
        self.chains[toxic.direction].append(toxic)
        for link in self._links(toxic.direction):
            link.add_toxic(toxic)

    def update(self, toxic: Toxic) -> None:
        """Replace a toxic in place (same name, type and direction)."""
        chain = self.chains[toxic.direction]
        chain[[t.name for t in chain].index(toxic.name)] = toxic
        for link in self._links(toxic.direction):
            link.update_toxic(toxic)

    def remove(self, name: str) -> bool:
        """Take a toxic out of its chain and off every live link; False when unknown."""
        toxic = self.find(name)
        if toxic is None:
            return False
        self.chains[toxic.direction].remove(toxic)
        for link in self._links(toxic.direction):
            link.remove_toxic(name)
        return True

    def reset(self) -> None:
        """Remove every toxic (POST /reset)."""
        for toxic in self.all():
            self.remove(toxic.name)
