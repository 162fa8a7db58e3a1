"""`harness upload DIR --vertical V`: the seed's `aws s3 cp --recursive`, done right.

The seed's command (`--include "*.jpg"` without `--exclude "*"`) uploaded every
file of the folder. Here every file is checked first, with the resize function's
own rules (harness/lambda_rules.py): name `{cd_idx}_{sequence}.jpg` and JPEG
content that decodes. Rejects are listed with their reasons before anything is
uploaded; the rest go up concurrently. It is resumable: an object already in the
bucket with the same size and ETag is skipped, so running it again after an
interruption uploads only what is missing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from boto3.s3.transfer import TransferConfig

from harness.systems.catalog import lambda_rules
from harness.util.errors import HarnessError

# Multipart settings of the upload; the ETag of a multipart object depends on them,
# so the resumability check computes local ETags with the same part size.
PART_SIZE = 8 * 1024 * 1024
TRANSFER = TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE)


@dataclass(frozen=True)
class LocalFile:
    path: Path
    relative: str
    size: int
    key: str | None = None  # set when accepted
    reason: str | None = None  # set when rejected


@dataclass
class UploadPlan:
    vertical: str
    accepted: list[LocalFile] = field(default_factory=list)
    rejected: list[LocalFile] = field(default_factory=list)
    to_upload: list[LocalFile] = field(default_factory=list)
    already_uploaded: list[LocalFile] = field(default_factory=list)


@dataclass
class UploadResult:
    uploaded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def s3_etag(path: Path, part_size: int = PART_SIZE) -> str:
    """The ETag S3 gives this file when uploaded with `part_size` parts (no SSE-KMS)."""
    digests = []
    with open(path, "rb") as handle:
        while chunk := handle.read(part_size):
            digests.append(hashlib.md5(chunk, usedforsecurity=False).digest())
    if len(digests) <= 1:
        return (digests[0] if digests else hashlib.md5(b"", usedforsecurity=False).digest()).hex()
    combined = hashlib.md5(b"".join(digests), usedforsecurity=False).hexdigest()
    return f"{combined}-{len(digests)}"


def check_file(path: Path, relative: str, vertical: str, origin_prefix: str) -> LocalFile:
    """Accept or reject one local file with the resize function's rules."""
    naming = lambda_rules.naming()
    size = path.stat().st_size
    if "/" in relative:
        reason = f"inside a subfolder ({relative}); the rule has none: {naming.RULE}"
        return LocalFile(path, relative, size, reason=reason)
    try:
        name = naming.parse_filename(vertical, path.name)
    except naming.NameRejected as exc:
        return LocalFile(path, relative, size, reason=exc.reason)
    reason = lambda_rules.check_jpeg(path.read_bytes())
    if reason:
        return LocalFile(path, relative, size, reason=reason)
    return LocalFile(path, relative, size, key=name.origin_key(origin_prefix))


def scan(directory: Path, vertical: str, origin_prefix: str, workers: int = 4) -> UploadPlan:
    """Check every file under `directory` (recursively: files in subfolders are rejects)."""
    if not directory.is_dir():
        raise HarnessError(f"{directory} is not a folder")
    naming = lambda_rules.naming()
    try:
        naming.check_vertical(vertical)
    except naming.NameRejected as exc:
        raise HarnessError(exc.reason) from exc
    files = []
    for root, dirs, names in os.walk(directory):
        dirs.sort()
        for name in sorted(names):
            path = Path(root) / name
            files.append((path, path.relative_to(directory).as_posix()))
    plan = UploadPlan(vertical)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        checked = list(pool.map(lambda f: check_file(f[0], f[1], vertical, origin_prefix), files))
    for item in checked:
        (plan.accepted if item.key else plan.rejected).append(item)
    return plan


def compare_with_bucket(plan: UploadPlan, existing: dict[str, dict]) -> UploadPlan:
    """Split the accepted files into already uploaded (same size and ETag) and to upload."""
    for item in plan.accepted:
        remote = existing.get(item.key or "")
        if remote and remote["size"] == item.size and remote["etag"] == s3_etag(item.path):
            plan.already_uploaded.append(item)
        else:
            plan.to_upload.append(item)
    return plan


def upload(
    s3,
    bucket: str,
    files: list[LocalFile],
    workers: int = 8,
    on_bytes: Callable[[int], None] = lambda _: None,
) -> UploadResult:
    """Upload concurrently; a failed file is reported, never silently dropped."""
    result = UploadResult()

    def put(item: LocalFile) -> str:
        s3.upload_file(
            str(item.path),
            bucket,
            item.key,
            ExtraArgs={"ContentType": "image/jpeg"},
            Config=TRANSFER,
            Callback=on_bytes,
        )
        return item.key or ""

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(put, item): item for item in files}
        for future in as_completed(futures):
            item = futures[future]
            try:
                result.uploaded.append(future.result())
            except Exception as exc:
                result.failed[item.relative] = f"{type(exc).__name__}: {exc}"
    result.uploaded.sort()
    return result
