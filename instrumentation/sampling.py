"""Asking the sampler before the server span is built, and agreeing with the SDK afterwards.

The FastAPI instrumentor computes every request attribute and the route before the sampler
is asked, so an unsampled request pays for most of a sampled one's work. `Presampler` asks
the provider's sampler first, with the inputs the SDK would give it for a root or child
server span; a dropped request then needs only a non-recording span context, made the way
the SDK makes one.

The SDK asks the sampler again when the span of a sampled request starts. The decisions agree
because `Presampler` hands the trace id it asked about to the SDK through `PresetTraceIds`,
the id generator of the providers gameday builds: the only ones it is used with, since their
samplers (OTEL_TRACES_SAMPLER) look at the trace id and the parent only, never at the span
name or attributes.
"""

from __future__ import annotations

import random
from contextvars import ContextVar, Token

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags

_preset_trace_id: ContextVar[int] = ContextVar("gameday_preset_trace_id", default=0)
_DROPPED = TraceFlags(TraceFlags.DEFAULT)
_DROPPED_RANDOM = TraceFlags(TraceFlags.DEFAULT | TraceFlags.RANDOM_TRACE_ID)


def _random_id(bits: int) -> int:
    value = 0
    while value == 0:
        value = random.getrandbits(bits)
    return value


class PresetTraceIds(IdGenerator):
    """Random ids, except that the next root trace id can be chosen beforehand."""

    def generate_span_id(self) -> int:
        return _random_id(64)

    def generate_trace_id(self) -> int:
        preset = _preset_trace_id.get()
        if preset:
            _preset_trace_id.set(0)
            return preset
        return _random_id(128)

    def is_trace_id_random(self) -> bool:
        return True


def preset_trace_id(trace_id: int) -> Token[int]:
    """Make `trace_id` the next root trace id in this context; `clear_preset` undoes it."""
    return _preset_trace_id.set(trace_id)


def clear_preset(token: Token[int]) -> None:
    """Forget a preset trace id the SDK did not use."""
    _preset_trace_id.reset(token)


def ratio_bound(sampler: Sampler) -> int | None:
    """For the OTEL_TRACES_SAMPLER samplers built on `ParentBased`, the root's ratio bound.

    Such a sampler follows the parent's sampled flag (and keeps its trace state), and samples
    a root when the low 64 bits of its trace id are under the bound; None for any other.
    """
    if type(sampler) is not ParentBased:
        return None
    if not (
        sampler._remote_parent_sampled is ALWAYS_ON
        and sampler._local_parent_sampled is ALWAYS_ON
        and sampler._remote_parent_not_sampled is ALWAYS_OFF
        and sampler._local_parent_not_sampled is ALWAYS_OFF
    ):
        return None
    root = sampler._root
    if root is ALWAYS_ON:
        return TraceIdRatioBased.TRACE_ID_LIMIT + 1
    if root is ALWAYS_OFF:
        return 0
    return root.bound if type(root) is TraceIdRatioBased else None


class Presampler:
    """Asks `sampler` whether the server span of a request will record, before it exists.

    For the parent-based samplers of OTEL_TRACES_SAMPLER the answer is computed here, as
    those samplers compute it (`ratio_bound`), without building a sampling result.
    """

    def __init__(self, sampler: Sampler) -> None:
        self.sampler = sampler
        self._bound = ratio_bound(sampler)

    def decide(self, parent: Context, kind: SpanKind) -> tuple[int, SpanContext | None]:
        """(root trace id to preset, 0 when the parent's is used; span context if dropped).

        A dropped request's span context is what the SDK would have made: the parent's trace
        id (or a new random one), a new span id, the sampled flag off, the sampler's state.
        """
        parent_context = trace.get_current_span(parent).get_span_context()
        root = not parent_context.is_valid
        trace_id = _random_id(128) if root else parent_context.trace_id
        bound = self._bound
        if bound is None:
            result = self.sampler.should_sample(parent, trace_id, "", kind)
            recording = result.decision.is_recording()  # type: ignore[no-untyped-call]
            trace_state = result.trace_state
        elif root:
            recording = trace_id & TraceIdRatioBased.TRACE_ID_LIMIT < bound
            trace_state = None
        else:
            recording = parent_context.trace_flags.sampled
            trace_state = parent_context.trace_state
        if recording:
            return (trace_id if root else 0), None
        random_id = root or parent_context.trace_flags.random_trace_id
        return 0, SpanContext(
            trace_id,
            _random_id(64),
            is_remote=False,
            trace_flags=_DROPPED_RANDOM if random_id else _DROPPED,
            trace_state=trace_state,
        )
