"""Telemetry settings read from the standard OTEL_* environment variables (a pure core).

Every bad value becomes a warning and a safe default here, so nothing about the
environment can fail later, on the request path.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from urllib.parse import unquote

_SAMPLERS = {
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class ExporterKind(Enum):
    """Where finished spans go."""

    NONE = "none"
    OTLP_HTTP = "otlp_http"
    JSON_FILE = "otlp_json_file"
    CONSOLE = "console"


@dataclass(frozen=True, kw_only=True)
class SamplerChoice:
    """A sampler by its OTEL_TRACES_SAMPLER name and ratio (1.0 when the name takes none)."""

    name: str = "parentbased_always_on"
    ratio: float = 1.0


@dataclass(frozen=True, kw_only=True)
class ExporterChoice:
    """The trace exporter, where it writes, and whether it runs in its own process."""

    kind: ExporterKind = ExporterKind.NONE
    endpoint: str | None = None
    directory: Path | None = None
    separate_process: bool = True


@dataclass(frozen=True, kw_only=True)
class TelemetrySettings:
    """Everything `instrument()` reads from the environment, resolved and validated."""

    service_name: str
    resource: dict[str, str]
    sampler: SamplerChoice
    exporter: ExporterChoice
    tracing_enabled: bool = True
    warnings: tuple[str, ...] = field(default=())


def parse_resource_attributes(raw: str, warnings: list[str]) -> dict[str, str]:
    """Parse OTEL_RESOURCE_ATTRIBUTES (`k=v,k2=v2`, percent-encoded values)."""
    result: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            warnings.append(
                f"OTEL_RESOURCE_ATTRIBUTES: ignored {item!r}; "
                "write key=value pairs separated by commas"
            )
            continue
        result[key.strip()] = unquote(value.strip())
    return result


def choose_sampler(
    env: Mapping[str, str], warnings: list[str], ratio_override: float | None = None
) -> SamplerChoice:
    """OTEL_TRACES_SAMPLER(_ARG), parent-based by default; `ratio_override` wins when given."""
    if ratio_override is not None:
        if not 0.0 <= ratio_override <= 1.0:
            warnings.append(f"sampling_ratio={ratio_override!r} is outside [0, 1]; using 1.0")
            ratio_override = 1.0
        return SamplerChoice(name="parentbased_traceidratio", ratio=ratio_override)
    name = env.get("OTEL_TRACES_SAMPLER", "").strip().lower() or "parentbased_always_on"
    if name not in _SAMPLERS:
        warnings.append(
            f"OTEL_TRACES_SAMPLER={name!r} is not supported; using parentbased_always_on "
            f"(choose one of {', '.join(sorted(_SAMPLERS))})"
        )
        return SamplerChoice()
    if not name.endswith("traceidratio"):
        return SamplerChoice(name=name)
    raw = env.get("OTEL_TRACES_SAMPLER_ARG", "").strip()
    try:
        ratio = float(raw) if raw else 1.0
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        warnings.append(f"OTEL_TRACES_SAMPLER_ARG={raw!r} is not a ratio in [0, 1]; using 1.0")
        ratio = 1.0
    return SamplerChoice(name=name, ratio=ratio)


def _flag(env: Mapping[str, str], name: str, default: bool, warnings: list[str]) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE or raw in _FALSE:
        return raw in _TRUE
    warnings.append(f"{name}={raw!r} is not true or false; using {str(default).lower()}")
    return default


def choose_exporter(
    env: Mapping[str, str], warnings: list[str], traces_dir: str | os.PathLike[str] | None = None
) -> ExporterChoice:
    """OTLP/HTTP when an endpoint is set, JSON-lines files when a directory is, else none."""
    names = [n.strip().lower() for n in env.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()]
    known = {"otlp", "none", "console", "otlp_json_file"}
    for unknown in [n for n in names if n not in known]:
        warnings.append(
            f"OTEL_TRACES_EXPORTER={unknown!r} is not supported; use otlp, otlp_json_file, "
            "console or none"
        )
    names = [n for n in names if n in known]
    if "none" in names:
        return ExporterChoice()
    if "console" in names:
        return ExporterChoice(kind=ExporterKind.CONSOLE)
    directory = traces_dir or env.get("GAMEDAY_TRACES_DIR") or None
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if "otlp_json_file" in names and directory is None:
        warnings.append(
            "OTEL_TRACES_EXPORTER=otlp_json_file needs GAMEDAY_TRACES_DIR; not exporting"
        )
        return ExporterChoice()
    separate = _flag(env, "GAMEDAY_EXPORTER_PROCESS", True, warnings)
    if endpoint and "otlp_json_file" not in names:
        protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get(
            "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
        )
        if protocol != "http/protobuf":
            warnings.append(
                f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported; using http/protobuf"
            )
        return ExporterChoice(
            kind=ExporterKind.OTLP_HTTP, endpoint=endpoint, separate_process=separate
        )
    if directory is not None:
        return ExporterChoice(
            kind=ExporterKind.JSON_FILE, directory=Path(directory), separate_process=separate
        )
    return ExporterChoice()


def read_settings(
    env: Mapping[str, str],
    *,
    service_name: str | None = None,
    service_version: str | None = None,
    environment: str | None = None,
    sampling_ratio: float | None = None,
    traces_dir: str | os.PathLike[str] | None = None,
    default_service_name: str = "unknown_service",
) -> TelemetrySettings:
    """Resolve the telemetry settings: explicit arguments first, then OTEL_* variables."""
    warnings: list[str] = []
    attributes = parse_resource_attributes(env.get("OTEL_RESOURCE_ATTRIBUTES", ""), warnings)
    name = (
        service_name
        or env.get("OTEL_SERVICE_NAME")
        or attributes.get("service.name")
        or default_service_name
    )
    resource = {
        **attributes,
        "service.name": name,
        "service.version": service_version or attributes.get("service.version", "0.0.0"),
        "service.instance.id": attributes.get("service.instance.id")
        or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}",
        "deployment.environment": environment
        or attributes.get("deployment.environment")
        or attributes.get("deployment.environment.name")
        or "local",
    }
    disabled = env.get("OTEL_SDK_DISABLED", "").strip().lower() in _TRUE
    return TelemetrySettings(
        service_name=name,
        resource=resource,
        sampler=choose_sampler(env, warnings, sampling_ratio),
        exporter=ExporterChoice() if disabled else choose_exporter(env, warnings, traces_dir),
        tracing_enabled=not disabled,
        warnings=tuple(warnings),
    )
