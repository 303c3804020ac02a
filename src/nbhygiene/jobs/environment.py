"""The environment a run executes in: the kernel's interpreter, its installed distributions, git.

A run's key includes a fingerprint of the environment, and a cached re-run must answer in well under a
second, so the fingerprint is never taken by starting a kernel. The kernel's interpreter is found from
its kernelspec (as jupyter_client does), asked once for its version and distributions, and the answer
is cached in the store next to a signature of the interpreter file and of every ``sys.path`` directory's
modification time: installing, upgrading or removing a distribution changes a ``site-packages``
directory, which makes the cache stale.

Environment variables are never recorded: neither their names nor their values end up in a run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from nbhygiene.jobs.errors import UsageError
from nbhygiene.jobs.files import atomic_write_json, read_json_or_none

# jupyter_client replaces these first words of a kernelspec's argv with its own interpreter.
_SELF_PYTHON_NAMES = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}

_PROBE = r"""
import json, os, platform, sys
try:
    import importlib.metadata as metadata
except ImportError:  # pragma: no cover - Python < 3.8
    metadata = None
packages = {}
if metadata is not None:
    for dist in metadata.distributions():
        try:
            name = dist.metadata["Name"]
        except Exception:
            continue
        if name:
            key = name.lower().replace("_", "-").replace(".", "-")
            packages.setdefault(key, dist.version)  # the first on sys.path is the one imported
print(json.dumps({
    "python": platform.python_version(),
    "implementation": platform.python_implementation(),
    "platform": platform.platform(),
    "machine": platform.machine(),
    "executable": sys.executable,
    "paths": [p for p in sys.path if p and os.path.isdir(p)],
    "packages": dict(sorted(packages.items())),
}))
"""


@dataclass(slots=True)
class KernelTarget:
    """Which program a kernel name starts, as far as the environment fingerprint is concerned."""

    kernel_name: str
    argv: list[str]
    interpreter: str  # absolute path of argv[0], with jupyter_client's python substitution
    is_python: bool


def find_kernelspec(kernel_name: str) -> tuple[list[str], str] | None:
    """``(argv, language)`` of an installed kernelspec, looked up the way jupyter_client does."""
    try:
        from jupyter_core.paths import jupyter_path

        directories = jupyter_path("kernels")
    except ImportError:  # pragma: no cover - jupyter_core comes with nbformat
        directories = []
    for directory in directories:
        spec = read_json_or_none(os.path.join(directory, kernel_name, "kernel.json"))
        if isinstance(spec, dict) and isinstance(spec.get("argv"), list) and spec["argv"]:
            return [str(a) for a in spec["argv"]], str(spec.get("language", ""))
        spec = read_json_or_none(os.path.join(directory, kernel_name.lower(), "kernel.json"))
        if isinstance(spec, dict) and isinstance(spec.get("argv"), list) and spec["argv"]:
            return [str(a) for a in spec["argv"]], str(spec.get("language", ""))
    if kernel_name == "python3":
        # jupyter_client's built-in fallback when ipykernel is importable but no spec is installed
        return [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"], "python"
    return None


def resolve_kernel(kernel_name: str) -> KernelTarget:
    found = find_kernelspec(kernel_name)
    if found is None:
        raise UsageError(
            f"kernel {kernel_name!r} (named in the notebook's metadata) is not installed; "
            "`jupyter kernelspec list` shows the installed kernels"
        )
    argv, language = found
    first = argv[0]
    if first in _SELF_PYTHON_NAMES:
        interpreter = sys.executable
    else:
        interpreter = shutil.which(first) or first
    is_python = language.lower() in ("python", "") and "ipykernel" in " ".join(argv)
    return KernelTarget(kernel_name, argv, os.path.abspath(interpreter), is_python)


def _stat_signature(path: str) -> list[Any] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [path, st.st_mtime_ns, st.st_size, st.st_ino]


def _signature(interpreter: str, paths: list[str]) -> list[Any]:
    return [_stat_signature(interpreter)] + [_stat_signature(p) for p in paths]


def _probe(target: KernelTarget) -> dict[str, Any]:
    if not target.is_python:
        return {
            "python": None,
            "implementation": None,
            "platform": None,
            "machine": None,
            "paths": [],
            "packages": {},
            "executable": target.interpreter,
        }
    try:
        completed = subprocess.run(
            [target.interpreter, "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(
            f"kernel {target.kernel_name!r}: cannot run its interpreter {target.interpreter}: {exc}"
        ) from None
    if completed.returncode != 0:
        tail = completed.stderr.strip().splitlines()[-1:] or ["no output"]
        raise UsageError(
            f"kernel {target.kernel_name!r}: its interpreter {target.interpreter} failed ({tail[0]})"
        )
    return json.loads(completed.stdout)


@dataclass(slots=True)
class EnvironmentFingerprint:
    digest: str
    kernel_name: str
    description: dict[str, Any]  # python, implementation, platform, machine, packages

    def to_record(self) -> dict[str, Any]:
        return {"fingerprint": self.digest, "kernel": self.kernel_name, **self.description}


def environment_fingerprint(target: KernelTarget, cache_dir: str | None) -> EnvironmentFingerprint:
    """The kernel environment's fingerprint, from the cache when nothing on its ``sys.path`` changed."""
    cache_path = None
    identity = json.dumps([target.kernel_name, target.argv, target.interpreter])
    if cache_dir is not None:
        cache_path = os.path.join(
            cache_dir, "env-" + hashlib.sha1(identity.encode()).hexdigest()[:16] + ".json"
        )
        cached = read_json_or_none(cache_path)
        if (
            isinstance(cached, dict)
            and cached.get("identity") == identity
            and cached.get("signature") == _signature(target.interpreter, cached.get("paths", []))
        ):
            return EnvironmentFingerprint(cached["digest"], target.kernel_name, cached["description"])
    probed = _probe(target)
    description = {
        key: probed.get(key) for key in ("python", "implementation", "platform", "machine", "packages")
    }
    digest_source = {
        "kernel": target.kernel_name,
        "python": probed.get("python"),
        "implementation": probed.get("implementation"),
        "machine": probed.get("machine"),
        "packages": probed.get("packages"),
        "interpreter": None if target.is_python else target.interpreter,
    }
    digest = hashlib.sha256(json.dumps(digest_source, sort_keys=True).encode()).hexdigest()[:16]
    if cache_path is not None:
        paths = list(probed.get("paths") or [])
        try:
            os.makedirs(os.path.dirname(cache_path), exist_ok=True)
            atomic_write_json(
                cache_path,
                {
                    "identity": identity,
                    "paths": paths,
                    "signature": _signature(target.interpreter, paths),
                    "digest": digest,
                    "description": description,
                },
            )
        except OSError:
            pass  # a read-only store still runs; it just probes again next time
    return EnvironmentFingerprint(digest, target.kernel_name, description)


def git_state(directory: str) -> dict[str, Any] | None:
    """The commit checked out around ``directory`` and whether tracked files differ from it."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        head = subprocess.run(
            [git, "-C", directory, "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if head.returncode != 0:
            return None
        status = subprocess.run(
            [git, "-C", directory, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {
        "commit": head.stdout.strip(),
        "dirty": bool(status.stdout.strip()) if status.returncode == 0 else None,
    }


def package_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Readable differences between two package maps, for ``runs show``."""
    changes = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if old is None:
            changes.append(f"+{name} {new}")
        elif new is None:
            changes.append(f"-{name} {old}")
        else:
            changes.append(f"{name} {old} -> {new}")
    return changes
