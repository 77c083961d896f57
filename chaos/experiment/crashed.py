"""Runs whose process died: guarding a run, noticing the crash, and what it may have left.

    guard = RunGuard.start(run_dir)     # the runner, before its journal: watchdog armed
    journal = Journal.create(run_dir, ..., guarded_by=guard.fields)  # owner recorded
    ...
    guard.release()                     # the run ended (completed, failed, interrupted)

    settle(RUNS_DIR)                    # any `gameday` command: a `running` journal whose
                                        # process is gone is marked `crashed`, and its
                                        # summary.md and junit.xml are written from the journal
                                        # and the samples it left
    left_behind(RUNS_DIR)               # faults and processes a dead run may have left

A run records its process (PID and start time) in the journal, so a later command can tell a
run in progress from a dead one. When it dies, the watchdog (`chaos.watchdog`) stops every
process of the run within seconds and then runs `gameday rollback RUN_DIR`, which undoes what
is left on a Toxiproxy the run did not start (`--attach`), marks the run crashed and writes
its outputs. `gameday status` reports whatever is still left, with the command that undoes it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shlex
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos import watchdog
from chaos.errors import GamedayError
from chaos.procfs import is_running, pids_by_env, start_time

if TYPE_CHECKING:
    from chaos.faults.actions import Action
    from chaos.faults.journal import Journal
    from chaos.proxy.client import ToxiproxyClient
    from loadtests.windows import SampleSet

logger = logging.getLogger(__name__)

RUNS_DIR = Path(".gameday") / "runs"  # where runs go by default (relative to the cwd)
RUN_DIR_ENV = "GAMEDAY_RUN_DIR"
LOCK_FILE = ".settle.lock"
# chaos.faults.journal.JOURNAL_FILE; not imported, so that every `gameday` command can look
# for dead runs without loading the fault machinery (it is only needed when there is one).
JOURNAL_FILE = "journal.json"


@dataclass
class RunGuard:
    """What a run registered with the watchdog; `release` once the run has ended."""

    keys: tuple[str, ...]
    fields: dict[str, Any]  # for the journal: its owner (this process) and the watchdog's PID

    @classmethod
    def start(cls, run_dir: Path) -> RunGuard:
        """Arm the watchdog for the run in `run_dir`: should this process die, it stops the
        run's processes and rolls back. Start it before the journal is written, and write
        `fields` in the journal's first save (`Journal.create(guarded_by=...)`): a journal
        never exists without its owner, so a run killed at any moment is found dead."""
        guard = watchdog.current()
        log = str(run_dir / "watchdog.log")
        keys = (
            guard.watch_env(RUN_DIR_ENV, str(run_dir), log=log),  # the load, the processes
            guard.on_death(
                [sys.executable, "-m", "chaos.cli", "rollback", str(run_dir)],
                cwd=os.getcwd(),
                log=log,
            ),
        )
        me = os.getpid()
        fields = {"owner": {"pid": me, "start_time": start_time(me)}, "watchdog": guard.start()}
        return cls(keys, fields)

    @contextlib.contextmanager
    def until_started(self) -> Iterator[None]:
        """Release the guard if the block raises: for setting up the run whose journal
        carries `fields` — a run that never started leaves nothing to watch."""
        try:
            yield
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """The run ended without dying: nothing for the watchdog to do."""
        watchdog.current().forget(*self.keys)


def owner_alive(data: dict[str, Any]) -> bool | None:
    """True while the run's process lives; None when the journal names none (older runs)."""
    owner = data.get("owner")
    if not isinstance(owner, dict) or not isinstance(owner.get("pid"), int):
        return None
    return is_running(owner["pid"], owner.get("start_time"))


def _journals(root: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every journal under `root` (a run directory or a directory of runs), as raw data."""
    paths = (
        [root / JOURNAL_FILE] if (root / JOURNAL_FILE).is_file() else root.glob(f"*/{JOURNAL_FILE}")
    )
    for path in sorted(paths):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            yield path, data


def is_dead_run(data: dict[str, Any]) -> bool:
    """A run whose process is gone before it ended: its journal still `running`, or its
    report not yet written (`reported: false`, see `Journal.unreported`)."""
    unfinished = data.get("status") == "running" or data.get("reported") is False
    return unfinished and owner_alive(data) is False


@contextlib.contextmanager
def _exclusive(run_dir: Path) -> Iterator[bool]:
    """True when this process may settle the run (another one may be at it already)."""
    try:
        handle = (run_dir / LOCK_FILE).open("a")
    except OSError:
        yield False
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True


def phase_at_death(data: dict[str, Any]) -> str:
    """Where the timeline was when the run died, from the windows and faults it recorded."""
    windows = data.get("windows") or {}
    faults = data.get("faults") or []
    if "recovery" in windows:
        return "the verdict"
    if "fault" in windows:
        return "the recovery window"
    if faults:
        return "the fault window"
    if "baseline" in windows:
        return "the injection of the faults"
    if "warmup" in windows:
        return "the warm-up or the baseline"
    return "the start-up"


@dataclass
class Settled:
    """A run found dead and marked crashed."""

    run_dir: Path
    outputs: list[Path] = field(default_factory=list)


def mark_crashed(journal: Journal) -> None:
    """Close a dead run's journal as `crashed`, saying when it died."""
    owner = (journal.data.get("owner") or {}).get("pid", "?")
    if journal.status != "running":  # it had ended, and died writing its report
        error = (
            f"the run's process ({owner}) died while writing its report, after the run "
            f"{journal.status} (killed, or the machine went down); the report is written "
            "again from the journal and the samples"
        )
    else:
        error = (
            f"the run's process ({owner}) died during {phase_at_death(journal.data)} "
            "(killed, or the machine went down); nothing was judged after that"
        )
    journal.finish("crashed", error=error, reported=True)


def settle(root: Path) -> list[Settled]:
    """Mark every dead run under `root` crashed and write its summary.md and junit.xml."""
    settled = []
    for path, data in _journals(root):
        if not is_dead_run(data):
            continue
        with _exclusive(path.parent) as mine:
            if not mine:
                continue
            from chaos.faults.journal import Journal

            journal = Journal.load(path)
            if not is_dead_run(journal.data):  # settled meanwhile
                continue
            mark_crashed(journal)
            settled.append(Settled(path.parent, write_crash_outputs(journal)))
    return settled


def settle_and_tell(root: Path = RUNS_DIR) -> list[str]:
    """`settle`, and one line per run for the user: what happened, what may be left."""
    lines = []
    for done in settle(root):
        lines.append(
            f"gameday: the run in {done.run_dir} was found dead and is marked crashed; "
            f"its summary: {done.outputs[0] if done.outputs else '(none written)'}"
        )
        for left in left_behind(done.run_dir):
            lines.append(f"  it left {left.describe()}: run `{left.rollback_command()}`")
    return lines


def write_crash_outputs(journal: Journal) -> list[Path]:
    """summary.md and junit.xml of a crashed run, from its journal and the samples it left.

    The verdict is given only when baseline, fault and recovery windows were all complete;
    otherwise the summary shows what the samples hold per window the run got to. A matrix
    run is judged as far as it got (`chaos.matrix.crashed`); a pytest session (the plugin) has
    nothing of its own to judge: its tests' results are pytest's.
    """
    if journal.data.get("kind") == "pytest":
        return []
    if journal.data.get("kind") == "matrix":
        from chaos.matrix.crashed import write_crashed_matrix

        return write_crashed_matrix(journal)
    # Judging and reporting import a lot: only when there is a crashed run to write.
    from chaos.experiment.file import load_experiment
    from chaos.experiment.runner import LOAD_DIR, RunResult, whole_seconds
    from chaos.judgement.verdict import Phases, judge
    from chaos.report.files import JUNIT, SUMMARY, junit_xml, summary_markdown
    from chaos.system.model import load_system
    from loadtests.errors import LoadtestError
    from loadtests.samples import SAMPLES_FILE
    from loadtests.windows import read_run

    run_dir = journal.path.parent
    windows = {name: tuple(span) for name, span in (journal.data.get("windows") or {}).items()}
    samples: SampleSet | None = None
    if (run_dir / LOAD_DIR / SAMPLES_FILE).exists():
        try:
            samples = read_run(run_dir / LOAD_DIR)
        except (LoadtestError, OSError, ValueError) as exc:
            logger.warning("%s: samples unreadable (%s)", run_dir, exc)
    result = RunResult(run_dir=run_dir, status="crashed", error=journal.data.get("error"))
    try:
        experiment = load_experiment(journal.data["experiment"]["file"])
    except GamedayError as exc:  # moved or edited since: the journal alone
        note = f"the experiment file cannot be read any more: {exc}"
        return _bare_outputs(journal, run_dir, note)
    if samples is not None and all(n in windows for n in ("baseline", "fault", "recovery")):
        with contextlib.suppress(GamedayError, ValueError):
            spec = load_system(experiment.system)
            if spec.slo is not None:
                phases = Phases(
                    *(whole_seconds(n, *windows[n]) for n in ("baseline", "fault", "recovery"))
                )
                result.verdict = judge(experiment.hypothesis, spec.slo, samples, phases)
    summary = summary_markdown(result, experiment, journal) + _samples_section(samples, windows)
    (run_dir / SUMMARY).write_text(summary)
    (run_dir / JUNIT).write_text(_crash_case(junit_xml(result, experiment), result.error))
    return [run_dir / SUMMARY, run_dir / JUNIT]


@dataclass
class LeftBehind:
    """What a dead run may have left in place."""

    run_dir: Path
    status: str
    error: str | None
    faults: list[str] = field(default_factory=list)
    processes: list[int] = field(default_factory=list)

    def what_happened(self) -> str:
        """`crashed`, `was interrupted`, `failed`, ... (from the journal's status)."""
        return {"running": "died", "interrupted": "was interrupted"}.get(self.status, self.status)

    def describe(self) -> str:
        """What is left, in one phrase."""
        parts = list(self.faults)
        if self.processes:
            parts.append(f"processes {', '.join(map(str, self.processes))}")
        return "; ".join(parts)

    def rollback_command(self) -> str:
        """The exact command that undoes it (the path as short as it can be from here)."""
        path = self.run_dir
        with contextlib.suppress(ValueError):
            path = path.relative_to(Path.cwd())
        return f"gameday rollback {shlex.quote(str(path))}"


def _still_in_place(journal: Journal) -> list[str]:
    """The live faults of the journal that really are still in place, described."""
    from chaos.proxy.client import ToxiproxyClient

    url = journal.data.get("toxiproxy")
    client = ToxiproxyClient(url, timeout=2.0) if url else None
    reachable = client is not None and client.running()
    owned = bool(journal.data.get("owns_system"))
    found = []
    for index, actions in journal.live_faults():
        name = journal.data["faults"][index]["name"]
        for action in actions:
            where = f" (Toxiproxy {url})" if url else ""
            if action.kind in ("toxic", "disable"):
                if not reachable:
                    if not owned:  # someone else's proxy that does not answer: cannot tell
                        found.append(
                            f"fault {name}: {action.describe()}{where} may remain "
                            "(the proxy does not answer)"
                        )
                    continue  # the run's own proxy is gone, and its toxics with it
                assert client is not None
                if _applied(client, action):
                    found.append(f"fault {name}: {action.describe()}{where} is still in place")
            elif action.kind == "pause" and action.pgid and is_running(action.pgid):
                found.append(f"fault {name}: {action.describe()} (group {action.pgid}) is paused")
    return found


def _applied(client: ToxiproxyClient, action: Action) -> bool:
    assert action.proxy is not None
    try:
        if action.kind == "toxic":
            return any(t.name == action.toxic for t in client.toxics(action.proxy))
        return not client.get_proxy(action.proxy).enabled
    except GamedayError:
        return False  # the proxy itself is gone


def left_behind(root: Path) -> list[LeftBehind]:
    """Runs under `root` whose process is gone and that left faults or processes behind."""
    running = pids_by_env(RUN_DIR_ENV)
    found = []
    for path, data in _journals(root):
        if owner_alive(data):
            continue  # a run in progress owns what it holds
        live = any(f.get("state") in ("pending", "applied") for f in data.get("faults") or ())
        processes = running.get(str(data.get("run_dir")), [])
        if not live and not processes:
            continue
        from chaos.faults.journal import Journal

        journal = Journal(path, data)
        faults = _still_in_place(journal) if live else []
        if faults or processes:
            found.append(
                LeftBehind(
                    Path(str(data.get("run_dir"))),
                    str(data.get("status")),
                    data.get("error"),
                    faults,
                    sorted(processes),
                )
            )
    return found


def _samples_section(samples: SampleSet | None, windows: dict[str, tuple[float, float]]) -> str:
    """A table of what the samples hold per window the run got to, and after it."""
    from loadtests.windows import Window

    lines = ["", "## What the samples hold", ""]
    if samples is None or samples.span is None:
        return "\n".join([*lines, "No samples were written before the crash.", ""])
    spans = [
        Window(n, *windows[n]) for n in ("warmup", "baseline", "fault", "recovery") if n in windows
    ]
    span = samples.span
    last = max((w.end for w in spans), default=span.start)
    if span.end > last:
        spans.append(Window("until the crash", last, span.end))
    lines += ["| window | journey | requests | errors | p95 |", "|---|---|---|---|---|"]
    for window in spans:
        for journey in samples.journeys:
            stats = samples.stats(journey, window)
            p95 = stats.percentile_ms(95)
            lines.append(
                f"| {window.name} | {journey} | {stats.offered} | {stats.error_rate * 100:.1f}% "
                f"| {'-' if p95 is None else f'{p95:.0f}ms'} |"
            )
    return "\n".join(lines) + "\n"


def _crash_case(xml: str, error: str | None) -> str:
    """Add a failing `run` test case: a crashed run must fail in CI whatever was judged."""
    from xml.etree import ElementTree as ET

    suite = ET.fromstring(xml)
    if any(c.get("name") == "run" for c in suite.iter("testcase")):
        return xml  # nothing was judged: the failing `run` case is there already
    case = ET.Element("testcase", classname=suite.get("name", "gameday"), name="run")
    ET.SubElement(case, "failure", message=f"crashed: {error}"[:500]).text = f"crashed: {error}"
    suite.insert(0, case)
    suite.set("tests", str(len(suite.findall("testcase"))))
    suite.set("failures", str(len(suite.findall("testcase/failure"))))
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def _bare_outputs(journal: Journal, run_dir: Path, note: str) -> list[Path]:
    """The outputs when the experiment file is gone: what the journal says, one failing case."""
    from xml.etree import ElementTree as ET

    from chaos.report.files import JUNIT, SUMMARY

    name = str(journal.data["experiment"]["name"])
    faults = [
        f"- {f['name']} ({f['kind']} on {f['target']}): {f['state']}"
        for f in journal.data["faults"]
    ]
    lines = [
        f"# {name}: crashed",
        "",
        f"- run directory: `{run_dir}`",
        "",
        f"**crashed**: {journal.data.get('error')}",
        "",
        note,
    ]
    if faults:
        lines += ["", "## Faults", "", *faults]
    (run_dir / SUMMARY).write_text("\n".join(lines) + "\n")
    suite = ET.Element("testsuite", name=f"gameday.{name}", tests="0", failures="0")
    (run_dir / JUNIT).write_text(
        _crash_case(ET.tostring(suite, encoding="unicode"), journal.data.get("error"))
    )
    return [run_dir / SUMMARY, run_dir / JUNIT]
