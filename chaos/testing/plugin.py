"""gameday's pytest plugin (entry point `pytest11: gameday`): a running system, faults, load.

    def test_payments_down_leaves_browse_alone(fault, load):
        with fault("payments", "down"):
            assert load("browse", rate=10, seconds=5).p95 < 300

Fixtures (docs/pytest-plugin.md):

- `gameday_system_file` (session): the system file, from `--gameday-system PATH` or the ini
  option `gameday_system` (relative to the ini file); override it to choose in code;
- `gameday_system` (session): the system started from it (chaos.testing.system), or the one
  `gameday up` runs with `--gameday-attach` / `gameday_attach = true`; stopped at the end;
- `fault` (chaos.testing.fault.Faults): `with fault(target, kind, **attributes):`;
- `load` (chaos.testing.load.Load): `load(journey, rate, seconds)` -> LoadResult.

What the fixtures did during a test (faults applied and removed, each load's result) is
shown with a failing test's report, as its "gameday" section. SIGTERM ends the session like
Ctrl-C, so faults are removed and the system stops. Importing this module is cheap: the
chaos machinery is imported when a fixture is first used.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from chaos.testing.fault import Faults
    from chaos.testing.load import Load
    from chaos.testing.system import SystemUnderTest

SECTION = "gameday"
EXIT_SIGTERM = 143
NOTES = pytest.StashKey[list[str]]()
HOW_TO_CONFIGURE = (
    "pass --gameday-system PATH, set 'gameday_system = PATH' in your pytest configuration "
    "(pytest.ini, or [tool.pytest.ini_options] in pyproject.toml), or override the "
    "gameday_system_file fixture"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """--gameday-system, --gameday-attach and their ini options."""
    group = parser.getgroup("gameday", "gameday: a running system, faults and load")
    group.addoption(
        "--gameday-system",
        metavar="PATH",
        default=None,
        help="system file the gameday_system fixture starts (ini: gameday_system)",
    )
    group.addoption(
        "--gameday-attach",
        action="store_true",
        default=None,
        help="use the system `gameday up` runs in this directory instead of starting one "
        "(ini: gameday_attach)",
    )
    parser.addini(
        "gameday_system",
        "system file the gameday_system fixture starts (relative to this file)",
        type="paths",
        default=[],
    )
    parser.addini(
        "gameday_attach",
        "use the system `gameday up` runs instead of starting one",
        type="bool",
        default=False,
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    """`gameday: system ...` when one is configured."""
    path = _configured(config)
    if path is None:
        return None
    how = "attached to `gameday up`" if _attach(config) else "started on first use"
    return f"gameday: system {path[0]} ({how})"


def _configured(config: pytest.Config) -> tuple[Path, str] | None:
    option = config.getoption("gameday_system")
    if option:
        return Path(config.invocation_params.dir, option), "--gameday-system"
    paths: list[Path] = config.getini("gameday_system")
    if len(paths) > 1:
        raise pytest.UsageError(
            f"gameday_system in {config.inipath} names {len(paths)} files; name one"
        )
    return (paths[0], f"gameday_system in {config.inipath}") if paths else None


def _attach(config: pytest.Config) -> bool:
    return bool(config.getoption("gameday_attach") or config.getini("gameday_attach"))


@pytest.fixture(scope="session")
def gameday_system_file(pytestconfig: pytest.Config) -> Path:
    """The system file of the session (--gameday-system, or ini gameday_system)."""
    configured = _configured(pytestconfig)
    if configured is None:
        pytest.fail(f"gameday: no system file; {HOW_TO_CONFIGURE}", pytrace=False)
    path, source = configured
    if not path.is_file():
        pytest.fail(
            f"gameday: system file {path} (from {source}) does not exist; {HOW_TO_CONFIGURE}",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def gameday_system(
    gameday_system_file: Path, pytestconfig: pytest.Config
) -> Generator[SystemUnderTest, None, None]:
    """The running system (started for the session, or attached); stopped at the end."""
    from chaos.errors import GamedayError
    from chaos.runtime.state import STATE_FILE
    from chaos.testing.signals import deferred_signals, sigterm_raises
    from chaos.testing.system import RUNS_DIR, system_under_test

    here = pytestconfig.invocation_params.dir
    session = system_under_test(
        gameday_system_file,
        attach=_attach(pytestconfig),
        state_file=here / STATE_FILE,
        runs_root=here / RUNS_DIR,
    )
    with sigterm_raises(_exit_on_sigterm):
        try:
            system = session.__enter__()
        except GamedayError as exc:
            pytest.fail(f"gameday: {exc}", pytrace=False)
        try:
            yield system
        finally:
            with deferred_signals():  # the system stops whole, then the signal is handled
                session.__exit__(None, None, None)


def _exit_on_sigterm() -> None:
    pytest.exit(
        "gameday: SIGTERM; stopping the session (its faults are removed, its system stopped)",
        returncode=EXIT_SIGTERM,
    )


@pytest.fixture
def fault(gameday_system: SystemUnderTest, request: pytest.FixtureRequest) -> Iterator[Faults]:
    """`with fault(target, kind, **attributes):` holds a fault for the block, then removes it."""
    from chaos.testing.fault import Faults

    faults = Faults(gameday_system, note=_noter(request.node))
    yield faults
    errors = faults.close()  # faults entered but never left (an ExitStack kept open...)
    if errors:
        pytest.fail(
            f"gameday: could not remove faults at teardown: {'; '.join(errors)}; they are in "
            f"{gameday_system.journal.path}: `gameday rollback` undoes them",
            pytrace=False,
        )


@pytest.fixture
def load(gameday_system: SystemUnderTest, request: pytest.FixtureRequest) -> Load:
    """`load(journey, rate=None, seconds=5)` runs one journey alone and returns its statistics."""
    from chaos.testing.load import Load

    return Load(gameday_system, note=_noter(request.node))


def _noter(node: pytest.Item | pytest.Collector) -> Callable[[str], None]:
    def note(line: str) -> None:
        node.stash.setdefault(NOTES, []).append(f"{time.strftime('%H:%M:%S')} {line}")

    return note


def _report(item: pytest.Item, when: str) -> None:
    notes = item.stash.get(NOTES, [])
    if notes:
        item.add_report_section(when, SECTION, "\n".join(notes))
        notes.clear()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Attach what the fixtures did to the test's report."""
    try:
        return (yield)
    finally:
        _report(item, "call")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, object, object]:
    """Attach what the fixtures' teardown did (faults left in place, removed there)."""
    try:
        return (yield)
    finally:
        _report(item, "teardown")
