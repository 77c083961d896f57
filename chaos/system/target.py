"""What a fault is aimed at: a whole service, one replica, or one edge between two services.

    parse_target("payments")            # FaultTarget(kind="service", service="payments")
    parse_target("payments/1")          # one replica (0-based)
    parse_target("orders->payments")    # the edge: only orders' calls to payments

`chaos.system.topology.resolve_target` turns a target into the proxies and processes it stands for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

NAME = re.compile(r"^[a-z][a-z0-9-]*$")
TARGET_FORMS = (
    "SERVICE, SERVICE/REPLICA (e.g. payments/1) or CALLER->CALLEE (e.g. orders->payments)"
)

TargetKind = Literal["service", "replica", "edge"]


@dataclass(frozen=True)
class FaultTarget:
    """A service (`payments`), a replica (`payments/1`) or an edge (`orders->payments`)."""

    kind: TargetKind
    service: str
    replica: int | None = None
    caller: str | None = None

    def __str__(self) -> str:
        if self.kind == "replica":
            return f"{self.service}/{self.replica}"
        if self.kind == "edge":
            return f"{self.caller}->{self.service}"
        return self.service


def parse_target(text: str) -> FaultTarget:
    """Parse a target; raises ValueError naming the text and the accepted forms."""
    value = text.strip()
    if "->" in value:
        caller, _, callee = (part.strip() for part in value.partition("->"))
        if NAME.match(caller) and NAME.match(callee):
            return FaultTarget("edge", callee, caller=caller)
    elif "/" in value:
        service, _, index = value.partition("/")
        if NAME.match(service) and index.isdigit():
            return FaultTarget("replica", service, replica=int(index))
    elif NAME.match(value):
        return FaultTarget("service", value)
    raise ValueError(f"{text!r} is not a fault target; write {TARGET_FORMS}")
