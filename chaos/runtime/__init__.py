"""The local runtime: start a system's processes behind per-edge proxies and supervise them.

See docs/runtime.md. `start_system` is the Python API; `gameday up/down/status` the CLI.
"""

from chaos.runtime.events import Event
from chaos.runtime.supervisor import Backoff
from chaos.runtime.system import ReplicaStatus, RunningSystem, start_system

__all__ = ["Backoff", "Event", "ReplicaStatus", "RunningSystem", "start_system"]
