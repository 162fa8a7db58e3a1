"""Settings, read from environment variables with defaults that work on a laptop.

Every setting is an environment variable so that CI, the Docker demo and a user's
shell configure the harness the same way; nothing here knows this machine's paths.
Settings are plain data: `backend` is the name the user gave, `auto` included, and
`harness.runtime.backends.resolve()` turns that into a backend.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

from harness.util.errors import HarnessError

# How the embedded LocalStack checks IAM for the Lambda functions' role sessions
# (harness/localstack_plugin/harness_iam): enforce (AWS's answer), audit (allow, log
# the would-be denials), off. Enforce by default: what passes locally must pass on AWS.
IAM_MODES = ("enforce", "audit", "off")

LOCALSTACK_SERVICES = (
    "s3,sns,sqs,lambda,cloudwatch,logs,iam,sts,events,scheduler,secretsmanager,ssm,kms"
)


def _project_dir() -> Path:
    explicit = os.environ.get("HARNESS_PROJECT_DIR")
    if explicit:
        return Path(explicit).resolve()
    return Path(__file__).resolve().parent.parent


def _cache_dir() -> Path:
    explicit = os.environ.get("HARNESS_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pipeline-harness"


def _architecture(name: str) -> str:
    """A Lambda architecture; `native` is this machine's."""
    if name != "native":
        return name
    return "arm64" if platform.machine().lower() in ("arm64", "aarch64") else "x86_64"


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise HarnessError(f"{name}={raw!r} is not a whole number") from exc


@dataclass(frozen=True)
class Settings:
    backend: str = field(default_factory=lambda: os.environ.get("HARNESS_BACKEND", "embedded"))
    host: str = "127.0.0.1"
    port: int = field(default_factory=lambda: env_int("HARNESS_PORT", 4566))
    external_endpoint: str | None = field(
        default_factory=lambda: os.environ.get("HARNESS_ENDPOINT") or None
    )
    # With HARNESS_BACKEND=external: `localstack` (a server you run, at HARNESS_ENDPOINT)
    # or an emulator the harness installs and runs itself (runtime/backends/server_kinds).
    external_kind: str = field(
        default_factory=lambda: os.environ.get("HARNESS_EXTERNAL_KIND", "localstack")
    )
    region: str = field(default_factory=lambda: os.environ.get("HARNESS_REGION", "us-east-1"))
    project_dir: Path = field(default_factory=_project_dir)
    cache_dir: Path = field(default_factory=_cache_dir)
    localstack_version: str = field(
        default_factory=lambda: os.environ.get("HARNESS_LOCALSTACK_VERSION", "4.13.1")
    )
    localstack_pins: str | None = field(
        default_factory=lambda: os.environ.get("HARNESS_LOCALSTACK_PINS") or None
    )
    services: str = field(
        default_factory=lambda: os.environ.get("HARNESS_SERVICES", LOCALSTACK_SERVICES)
    )
    lambda_runtimes: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            r.strip()
            for r in os.environ.get("HARNESS_LAMBDA_RUNTIMES", "python3.12").split(",")
            if r.strip()
        )
    )
    # What the local deploy builds the functions' zips for: the interpreter and machine
    # that run them locally, so a compiled wheel (Pillow) imports. `auto`: the version
    # of the interpreter the executor runs the runtime with (3.12 when one is found, else
    # the one it falls back to: harness/runtime/lambda_runtimes.build_python); `native`:
    # this machine's architecture. Promotion builds for AWS on its own (3.12, x86_64).
    lambda_build_python: str = field(
        default_factory=lambda: os.environ.get("HARNESS_LAMBDA_BUILD_PYTHON") or "auto"
    )
    lambda_build_architecture: str = field(
        default_factory=lambda: _architecture(os.environ.get("HARNESS_LAMBDA_BUILD_ARCH", "native"))
    )
    rekognition_port: int = field(default_factory=lambda: env_int("HARNESS_REKOGNITION_PORT", 4580))
    # Host name in the stub endpoints: "stubs" when the harness itself runs in a container
    # of docker-compose.yml; the stubs then run in a container of their own.
    stubs_endpoint_host: str = field(
        default_factory=lambda: os.environ.get("HARNESS_STUBS_ENDPOINT_HOST", "127.0.0.1")
    )
    slack_port: int = field(default_factory=lambda: env_int("HARNESS_SLACK_PORT", 4581))
    name_prefix: str = field(
        default_factory=lambda: os.environ.get("HARNESS_NAME_PREFIX", "imgpipe")
    )
    tf_provider_mirror: str | None = field(
        default_factory=lambda: os.environ.get("HARNESS_TF_PROVIDER_MIRROR") or None
    )
    iam: str = field(
        default_factory=lambda: (
            os.environ.get("HARNESS_IAM", "enforce").strip().lower() or "enforce"
        )
    )
    # Deliveries between services (S3 -> SNS, SNS -> SQS/Lambda, CloudWatch -> SNS) are
    # checked against the topic, queue, function and key policies too, as on AWS, where a
    # missing statement leaves the event undelivered; HARNESS_IAM_DELIVERIES=0 opts out.
    iam_deliveries: bool = field(
        default_factory=lambda: (
            os.environ.get("HARNESS_IAM_DELIVERIES", "1").strip().lower()
            not in ("0", "false", "no", "off")
        )
    )

    def __post_init__(self) -> None:
        if self.iam not in IAM_MODES:
            raise HarnessError(f"HARNESS_IAM={self.iam!r}: use one of {', '.join(IAM_MODES)}")

    @property
    def state_dir(self) -> Path:
        explicit = os.environ.get("HARNESS_STATE_DIR")
        return Path(explicit).resolve() if explicit else self.project_dir / ".harness"

    @property
    def iam_denials(self) -> Path:
        """The JSON-lines log of IAM denials (HARNESS_IAM_DENIALS, else in the state dir)."""
        explicit = os.environ.get("HARNESS_IAM_DENIALS")
        return (
            Path(explicit).expanduser().resolve()
            if explicit
            else self.state_dir / "iam-denials.jsonl"
        )

    @property
    def endpoint(self) -> str:
        """Where LocalStack answers: HARNESS_ENDPOINT names a LocalStack the harness does
        not run (`external`); every other backend runs it on host:port. The name needs
        no resolving here (config sits below runtime): `auto` never becomes `external`
        (backends.AUTO_CHOICES), so it means host:port whatever it resolves to."""
        if self.backend == "external" and self.external_endpoint:
            return self.external_endpoint
        return f"http://{self.host}:{self.port}"

    @property
    def pins_file(self) -> Path:
        if self.localstack_pins:
            return Path(self.localstack_pins).expanduser().resolve()
        name = f"localstack-core-{self.localstack_version}-runtime.txt"
        return Path(__file__).resolve().parent / "pins" / name

    @property
    def rekognition_endpoint(self) -> str:
        return f"http://{self.stubs_endpoint_host}:{self.rekognition_port}"

    @property
    def slack_endpoint(self) -> str:
        return f"http://{self.stubs_endpoint_host}:{self.slack_port}"


def load() -> Settings:
    """The settings of this environment; `backend` may still say `auto`."""
    return Settings()
