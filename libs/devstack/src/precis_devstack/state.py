"""The local suite's state folder: where logs, pid files, databases and secrets live.

DIR/logs/<name>.log   DIR/pids/<name>.pid   DIR/<name>.db
DIR/api_key           DIR/pii_secret        DIR/suite.json (what runs, on which ports)
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WORKSPACE_ID = "demo"


@dataclass(frozen=True, slots=True)
class StateLayout:
    root: Path

    @classmethod
    def at(cls, state_dir: Path | str) -> StateLayout:
        return cls(Path(state_dir).expanduser().resolve())

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def pids_dir(self) -> Path:
        return self.root / "pids"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def api_key_path(self) -> Path:
        return self.root / "api_key"

    @property
    def pii_secret_path(self) -> Path:
        return self.root / "pii_secret"

    @property
    def manifest_path(self) -> Path:
        return self.root / "suite.json"

    @property
    def demo_summary_path(self) -> Path:
        return self.root / "demo-summary.json"

    def log_path(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"

    def pid_path(self, name: str) -> Path:
        return self.pids_dir / f"{name}.pid"

    def db_path(self, name: str) -> Path:
        return self.root / f"{name}.db"

    def create(self) -> None:
        for folder in (self.root, self.logs_dir, self.pids_dir):
            folder.mkdir(parents=True, exist_ok=True)


def ensure_secret(path: Path, generate: Callable[[], str]) -> str:
    """Reads a secret file, creating it (mode 600) with a generated value the first time."""
    try:
        existing = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    value = generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value


def generate_api_key() -> str:
    return "precis_dev_" + secrets.token_urlsafe(24)


def generate_pii_secret() -> str:
    return secrets.token_hex(32)


def write_pid(layout: StateLayout, name: str, pid: int) -> None:
    layout.pids_dir.mkdir(parents=True, exist_ok=True)
    _write_atomically(layout.pid_path(name), f"{pid}\n")


def read_pid(layout: StateLayout, name: str) -> int | None:
    """The recorded pid, or None when there is no pid file or it does not hold a pid."""
    try:
        text = layout.pid_path(name).read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def remove_pid(layout: StateLayout, name: str) -> None:
    layout.pid_path(name).unlink(missing_ok=True)


def read_manifest(layout: StateLayout) -> dict[str, Any]:
    try:
        data = json.loads(layout.manifest_path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_manifest(layout: StateLayout, manifest: dict[str, Any]) -> None:
    _write_atomically(layout.manifest_path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
