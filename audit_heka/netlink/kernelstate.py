"""The kernel's audit state as a run found it, kept in the state directory.

Why a file: ``run`` changes machine-wide state (rules, enabled, failure,
rate_limit, backlog_limit, backlog_wait_time) and promises to put back what
it found. Kept in memory, that promise dies with a SIGKILL, and the next run
would find the crashed run's state and "restore" that. So the first run
writes what it found to ``<state_dir>/kernel-state.json`` before changing
anything; a run that starts after a crash finds the file, sees that its
owner is dead, and adopts the state in it (not the one it finds); a clean
exit restores that state and removes the file.

A file from another boot is ignored (the kernel's state did not survive the
reboot); a file whose owner is a live audit-heka is refused (two runs would
fight over one kernel). The value and its JSON form are pure; the file, the
boot id and /proc lookups are the thin I/O parts.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from audit_heka.host.private_files import create_exclusive
from audit_heka.netlink.control import AuditError
from audit_heka.netlink.rules import Rule, RuleError, decode_rule, encode_rule
from audit_heka.netlink.rulesync import Refused, Wanted, refusal, sync_rules
from audit_heka.netlink.status import AuditStatus

STATE_FILE_NAME = "kernel-state.json"
#: The settings a run may change, in the order they are put back (enabled
#: last: turning audit off first would log less of the restore itself).
SETTINGS = ("failure", "rate_limit", "backlog_limit", "backlog_wait_time", "enabled")
_VERSION = 1


class KernelStateError(Exception):
    """The state file cannot be used (another live run owns it, or it is unreadable)."""


@dataclass(frozen=True, slots=True)
class SavedKernelState:
    """What a run found: the settings and the rules (as the kernel listed them)."""

    boot_id: str
    owner: int  # pid of the run that manages the kernel now
    settings: Mapping[str, int] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()

    @classmethod
    def found(cls, status: AuditStatus, rules: list[Rule], *, boot_id: str,
              owner: int) -> SavedKernelState:
        values = status.as_dict()
        settings = {k: int(v) for k in SETTINGS if (v := values.get(k)) is not None}
        return cls(boot_id, owner, settings, tuple(rules))

    def to_json(self) -> str:
        return json.dumps({
            "version": _VERSION,
            "boot_id": self.boot_id,
            "owner": self.owner,
            "settings": dict(self.settings),
            "rules": [encode_rule(r).hex() for r in self.rules],
        }, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> SavedKernelState:
        try:
            data = json.loads(text)
            if data.get("version") != _VERSION:
                raise ValueError(f"version {data.get('version')!r}")
            settings = {str(k): int(v) for k, v in data["settings"].items() if k in SETTINGS}
            rules = tuple(decode_rule(bytes.fromhex(h)) for h in data["rules"])
            return cls(str(data["boot_id"]), int(data["owner"]), settings, rules)
        except (ValueError, KeyError, TypeError, AttributeError, RuleError) as exc:
            raise KernelStateError(f"not a kernel state file ({exc})") from None


def boot_id() -> str:
    """This boot's id (the kernel's audit state lives exactly as long)."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def is_audit_heka(pid: int) -> bool:
    """Whether ``pid`` is a live audit-heka process (not a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"audit_heka" in cmdline or b"audit-heka" in cmdline


class StateControl(Protocol):
    """What saving and restoring needs of the kernel (AuditControl has it)."""

    def get_status(self) -> AuditStatus: ...

    def set_status(self, **changes: int) -> None: ...

    def list_rules(self) -> list[Rule]: ...

    def add_rule(self, rule: Rule) -> Rule: ...

    def delete_rule(self, rule: Rule) -> None: ...

    def reset_lost(self) -> int: ...

    def set_loginuid_immutable(self) -> None: ...


@dataclass
class KernelStateFile:
    """``<state_dir>/kernel-state.json``: claim at start, restore and release at exit."""

    state_dir: Path
    pid: int = field(default_factory=os.getpid)
    boot: Callable[[], str] = boot_id
    alive: Callable[[int], bool] = is_audit_heka
    adopted_from: int | None = None  # pid of the crashed run whose state we took over

    @property
    def path(self) -> Path:
        return self.state_dir / STATE_FILE_NAME

    def load(self) -> SavedKernelState | None:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise KernelStateError(f"{self.path}: {exc.strerror}") from None
        try:
            return SavedKernelState.from_json(text)
        except KernelStateError as exc:
            raise KernelStateError(f"{self.path}: {exc}; remove it if no run is active"
                                   ) from None

    def save(self, state: SavedKernelState) -> None:
        """Replace the file atomically (temporary + fsync + rename), mode 0600."""
        tmp = self.path.with_name(f".{STATE_FILE_NAME}.{self.pid}")
        fd = create_exclusive(tmp)
        with os.fdopen(fd, "w") as out:
            out.write(state.to_json())
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(self.path)

    def claim(self, ctl: StateControl) -> SavedKernelState:
        """The state to restore at exit: a crashed run's, or what the kernel has now.

        Saved before the caller changes anything. Raises KernelStateError
        when a live audit-heka owns the file.
        """
        saved = self.load()
        if saved is not None and saved.boot_id == self.boot():
            if saved.owner != self.pid and self.alive(saved.owner):
                raise KernelStateError(
                    f"audit-heka (pid {saved.owner}) manages the kernel's audit state "
                    f"({self.path}); stop it first")
            if saved.owner != self.pid:
                self.adopted_from = saved.owner
            state = replace(saved, owner=self.pid)
        else:
            state = SavedKernelState.found(ctl.get_status(), ctl.list_rules(),
                                           boot_id=self.boot(), owner=self.pid)
        self.save(state)
        return state

    def release(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def restore(
    ctl: StateControl, state: SavedKernelState, *, rules: bool, settings: tuple[str, ...]
) -> list[Refused]:
    """Put the kernel back as ``state`` says: its rules (if ``rules``), then
    the named ``settings`` that differ (enabled last). Returns what the kernel
    refused (a kernel locked with -e 2 refuses everything until reboot)."""
    refused: list[Refused] = []
    if rules:
        refused += sync_rules(ctl, [Wanted(r) for r in state.rules]).refused
    now = ctl.get_status().as_dict()
    for name in SETTINGS:
        value = state.settings.get(name)
        if name not in settings or value is None or now.get(name) == value:
            continue
        try:
            ctl.set_status(**{name: value})
        except AuditError as exc:
            refused.append(refusal(None, exc))
    return refused
