"""Typed settings from the environment, with errors that name the variable, value and fix.

Each service describes its settings as a frozen dataclass with a `from_env(environ)`
classmethod built from these readers; the process environment is read once, at startup.
The variables shared by every service come from the system file contract
(docs/system-file.md): `<DEP>_URLS`, `GAMEDAY_DATA_DIR`, `GAMEDAY_SERVICE`, `GAMEDAY_REPLICA`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from sample_system.common.errors import ConfigError


def env_name(dependency: str) -> str:
    """The variable listing a dependency's addresses: `payments` -> `PAYMENTS_URLS`."""
    return dependency.upper().replace("-", "_") + "_URLS"


def urls(environ: Mapping[str, str], dependency: str, *, scheme: str = "http") -> tuple[str, ...]:
    """The base URLs of every replica of `dependency`, from `<DEP>_URLS` (comma-separated)."""
    name = env_name(dependency)
    raw = environ.get(name, "").strip()
    if not raw:
        raise ConfigError(
            f"{name} is not set; set it to the comma-separated base URLs of {dependency}'s "
            f"replicas, e.g. {name}={scheme}://127.0.0.1:8001 (the gameday runtime sets it "
            f"from depends_on in the system file)"
        )
    found: list[str] = []
    for part in raw.split(","):
        url = part.strip().rstrip("/")
        parsed = urlsplit(url)
        if parsed.scheme != scheme or not parsed.hostname or parsed.port is None:
            raise ConfigError(
                f"{name} contains {part.strip()!r}, which is not a {scheme}://host:port URL; "
                f"fix {name} to a comma-separated list like {scheme}://127.0.0.1:8001"
            )
        found.append(url)
    return tuple(found)


def text(environ: Mapping[str, str], name: str, default: str | None = None) -> str:
    """A string setting; without a default it must be present and non-empty."""
    value = environ.get(name, "").strip()
    if value:
        return value
    if default is None:
        raise ConfigError(f"{name} is not set; set it in the service's env (see docs)")
    return default


def integer(
    environ: Mapping[str, str], name: str, default: int, *, minimum: int = 0, maximum: int = 10**9
) -> int:
    """An integer setting within [minimum, maximum]."""
    return int(_bounded(environ, name, default, int, "an integer", minimum, maximum))


def number(
    environ: Mapping[str, str],
    name: str,
    default: float,
    *,
    minimum: float = 0.0,
    maximum: float = 1e9,
) -> float:
    """A float setting within [minimum, maximum]."""
    return _bounded(environ, name, default, float, "a number", minimum, maximum)


def _bounded(
    environ: Mapping[str, str],
    name: str,
    default: float,
    parse: Callable[[str], float],
    kind: str,
    minimum: float,
    maximum: float,
) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not {kind}; set it to e.g. {default}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name}={value} is out of range; set it between {minimum} and {maximum}")
    return value


def pairs(environ: Mapping[str, str], name: str) -> dict[str, str]:
    """A `name=value,name=value` setting (at least one pair), e.g. API keys per client."""
    raw = text(environ, name)
    found: dict[str, str] = {}
    for part in raw.split(","):
        left, sep, right = part.strip().partition("=")
        if not sep or not left.strip() or not right.strip():
            raise ConfigError(
                f"{name} contains {part.strip()!r}; write it as comma-separated name=value "
                f"pairs, e.g. {name}=alice=key-1,bob=key-2"
            )
        found[left.strip()] = right.strip()
    return found


def data_dir(environ: Mapping[str, str]) -> Path:
    """`GAMEDAY_DATA_DIR`: where this service keeps its SQLite file (created if missing)."""
    raw = text(environ, "GAMEDAY_DATA_DIR")
    path = Path(raw)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"GAMEDAY_DATA_DIR={raw!r} cannot be created ({exc.strerror}); "
            "point it to a writable directory"
        ) from None
    return path


def instance(environ: Mapping[str, str], service: str) -> str:
    """`<service>-<replica>` from `GAMEDAY_SERVICE`/`GAMEDAY_REPLICA`, for logs and ids."""
    return f"{environ.get('GAMEDAY_SERVICE', service)}-{environ.get('GAMEDAY_REPLICA', '0')}"
