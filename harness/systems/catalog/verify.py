"""`harness verify --vertical V [--cd-idx N ...]`: the runbook's check, done by a program.

The seed's runbook: "one entity has 4 rows in celeb_image_url (one per image
size); compare the count for the registered cd_idx values; check S3 for the
{vertical}/{image_size}/... objects". For every image of every entity this checks
the rows (one per size), each row's URL against the naming rule, and the served
objects, and names exactly what is missing. Messages still queued and rejection
records are reported too, so "missing", "rejected" and "not loaded yet" are told
apart: an image whose upload was rejected, or whose resize failed after Lambda's
retries, is a failed registration, reported with the reason or the error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.systems.catalog import lambda_rules
from harness.systems.catalog.pipeline import CatalogPipeline


@dataclass
class EntityCheck:
    cd_idx: int
    sequences: list[int] = field(default_factory=list)
    rows_found: int = 0
    rows_expected: int = 0
    objects_found: int = 0
    objects_expected: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Verification:
    vertical: str
    sizes: dict[str, int]
    entities: list[EntityCheck]
    rejections: list[dict]
    pending: dict[str, int]

    @property
    def ok(self) -> bool:
        return bool(self.entities) and all(entity.ok for entity in self.entities)

    @property
    def problems(self) -> list[str]:
        return [f"cd_idx {e.cd_idx}: {p}" for e in self.entities for p in e.problems]


def verify(
    pipeline: CatalogPipeline, vertical: str, cd_idxs: list[int] | None = None
) -> Verification:
    naming = lambda_rules.naming()
    naming.check_vertical(vertical)
    sizes = pipeline.sizes
    wanted = set(cd_idxs or [])
    # Images that should be catalogued: the accepted originals in the upload bucket.
    images: dict[int, set[int]] = {}
    origin = f"{pipeline.c['origin_prefix']}{vertical}/"
    for key in pipeline.keys(pipeline.c["upload_bucket"], origin):
        try:
            name = naming.parse_origin_key(key, pipeline.c["origin_prefix"])
        except naming.NameRejected:
            continue  # reported with the rejection records
        if not wanted or name.cd_idx in wanted:
            images.setdefault(name.cd_idx, set()).add(name.sequence)
    rows = pipeline.rows(vertical, sorted(wanted) or None)
    by_image = {(r["cd_idx"], r["sequence"], r["image_size"]): r for r in rows}
    for row in rows:  # rows whose original is gone still count as catalogued images
        images.setdefault(row["cd_idx"], set()).add(row["sequence"])
    for cd_idx in wanted:
        images.setdefault(cd_idx, set())
    served = set(pipeline.served_keys(vertical))
    rejections = pipeline.rejections(vertical)
    rejected = {record["source"]["key"]: record for record in rejections}
    failed = {key: f for f in pipeline.resize_failures() for key in f["objects"]}

    entities = []
    for cd_idx in sorted(images):
        entity = EntityCheck(cd_idx, sorted(images[cd_idx]))
        if not entity.sequences:
            entity.problems.append("no original uploaded and no rows in the catalog")
        for sequence in entity.sequences:
            image = naming.ImageName(vertical, cd_idx, sequence)
            origin_key = image.origin_key(pipeline.c["origin_prefix"])
            record = rejected.get(origin_key)
            if record:  # the registration failed: say why, not "4 rows missing"
                entity.problems.append(
                    f"image {sequence} was rejected ({record['code']}): {record['reason']}"
                )
                continue
            problems = _check_image(
                entity,
                image,
                sizes,
                by_image,
                served,
                pipeline.c["cdn_host"],
                pipeline.c["served_bucket"],
            )
            if problems and origin_key in failed:
                failure = failed[origin_key]
                problems = [
                    f"image {sequence}: the resize failed after {failure['attempts']} "
                    f"attempt(s): {failure['error']}"
                ]
            entity.problems += problems
        entities.append(entity)
    return Verification(
        vertical=vertical,
        sizes=sizes,
        entities=entities,
        rejections=rejections,
        pending=pipeline.pending(),
    )


def _check_image(
    entity: EntityCheck,
    image,
    sizes: dict[str, int],
    by_image: dict[tuple, dict],
    served: set[str],
    cdn_host: str,
    served_bucket: str | None = None,
) -> list[str]:
    """Count one image's rows and objects into `entity`; return what is missing."""
    problems = []
    for size in sizes:
        key = image.served_key(size)
        entity.rows_expected += 1
        entity.objects_expected += 1
        row = by_image.get((image.cd_idx, image.sequence, size))
        url = f"https://{cdn_host}/{key}"
        if row is None:
            problems.append(f"no row for size {size} of image {image.sequence}")
        else:
            entity.rows_found += 1
            if row["url"] != url:
                problems.append(f"row {size}/{image.sequence} has URL {row['url']}, expected {url}")
            # Where the rendition lives (migration 0002; rows loaded before it have no bucket).
            if row.get("s3_key") is not None and row["s3_key"] != key:
                problems.append(f"row {size}/{image.sequence} has key {row['s3_key']}, not {key}")
            bucket = row.get("s3_bucket")
            if bucket is not None and served_bucket is not None and bucket != served_bucket:
                problems.append(
                    f"row {size}/{image.sequence} has bucket {bucket}, not {served_bucket}"
                )
        if key in served:
            entity.objects_found += 1
        else:
            problems.append(f"served object {key} is missing")
    return problems
