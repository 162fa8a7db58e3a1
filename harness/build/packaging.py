"""Lambda deployment zips, built outside Terraform and reproducible.

The same source gives the same bytes (sorted entries, fixed timestamps and modes), so
Terraform's `source_code_hash` changes only when the code or its dependencies do.
Dependencies are installed for the Lambda platform (manylinux wheels, the runtime's
Python version) so one zip serves LocalStack and AWS alike.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.util.errors import HarnessError

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
# Lambda architecture -> the manylinux platform tag pip installs wheels for.
PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
SKIP_DIRS = {"__pycache__", ".pytest_cache", "tests"}
SKIP_SUFFIXES = {".pyc", ".pyo"}


@dataclass(frozen=True)
class Package:
    name: str
    path: Path
    sha256_base64: str


def _files(root: Path) -> Iterable[tuple[str, Path]]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for filename in sorted(filenames):
            path = Path(dirpath) / filename
            if path.suffix in SKIP_SUFFIXES:
                continue
            yield path.relative_to(root).as_posix(), path


def zip_dirs(dest: Path, *roots: Path) -> Path:
    """Zip the contents of `roots` (later roots may not repeat earlier names)."""
    entries: dict[str, Path] = {}
    for root in roots:
        for name, path in _files(root):
            entries.setdefault(name, path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(f".zip.{os.getpid()}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name].read_bytes())
    tmp.replace(dest)
    return dest


def sha256_base64(path: Path) -> str:
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


def _install_dependencies(
    requirements: Path, target: Path, python_version: str, platform: str
) -> None:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
        "--target",
        str(target),
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--platform",
        platform,
        "--only-binary=:all:",
        "--no-compile",
        "-r",
        str(requirements),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        raise HarnessError(
            f"installing the dependencies of {requirements} for the Lambda platform failed:\n"
            + "\n".join((result.stdout + result.stderr).splitlines()[-10:])
        )


def build_function(
    source: Path,
    build_dir: Path,
    python_version: str = "3.12",
    architecture: str = "x86_64",
) -> Package:
    """Build `build_dir/<name>.zip` from a function folder and its requirements.txt."""
    if not (source / "app.py").exists():
        raise HarnessError(f"{source} has no app.py: not a Lambda function folder")
    if architecture not in PLATFORMS:
        raise HarnessError(
            f"architecture {architecture!r} is not a Lambda architecture: use x86_64 or arm64"
        )
    if not re.fullmatch(r"3\.\d+", python_version):
        raise HarnessError(f"python_version {python_version!r} must look like 3.12")
    platform = PLATFORMS[architecture]
    roots = [source]
    requirements = source / "requirements.txt"
    lines = (
        [
            line.strip()
            for line in requirements.read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]
        if requirements.exists()
        else []
    )
    if lines:
        key = hashlib.sha256(
            f"{python_version}|{platform}|{chr(10).join(sorted(lines))}".encode()
        ).hexdigest()[:12]
        deps = build_dir / "deps" / f"{source.name}-{key}"
        deps.parent.mkdir(parents=True, exist_ok=True)
        # Test workers deploy side by side (harness/testing/parallel.py): one installs,
        # the others wait for it and reuse the result.
        with open(deps.parent / f".{deps.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (deps / ".complete").exists():
                shutil.rmtree(deps, ignore_errors=True)
                _install_dependencies(requirements, deps, python_version, platform)
                # Metadata folders hold install-time paths and timestamps: not reproducible.
                for record in deps.glob("*.dist-info/RECORD"):
                    record.unlink()
                (deps / ".complete").write_text("")
        # Scripts (e.g. jmespath's bin/jp.py) carry this machine's interpreter in their
        # shebang, and Lambda never runs them: leave them out (also of older caches).
        shutil.rmtree(deps / "bin", ignore_errors=True)
        roots.append(deps)
    zip_path = zip_dirs(build_dir / f"{source.name}.zip", *roots)
    return Package(source.name, zip_path, sha256_base64(zip_path))
