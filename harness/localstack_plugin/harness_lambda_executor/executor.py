"""Runs one Lambda execution environment as a local process instead of a container.

LocalStack creates one executor per execution environment and calls `start`, then
`invoke` one invocation at a time, then `stop`. Each environment gets its own Runtime
API server on a free 127.0.0.1 port and a child process `<python> -m awslambdaric
<handler>` in the unzipped code folder, so concurrent invocations run in separate
processes exactly as separate sandboxes would on AWS.

What AWS does and this file reproduces: the code root first on `sys.path` (bundled
dependencies win over the runtime's boto3), a clean environment (no host variables),
the function timeout enforced by killing the sandbox, and START/END/REPORT lines around
the function's own output in CloudWatch Logs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

from harness_lambda_executor import interpreters
from harness_lambda_executor.records import ProcessRecords, peak_rss_mb
from harness_lambda_executor.runtime_api import (
    PendingInvocation,
    RuntimeApiServer,
    RuntimeReply,
    deadline_ms,
)

LOG = logging.getLogger(__name__)

STARTUP_TIMEOUT_SECONDS = float(os.environ.get("HARNESS_LAMBDA_STARTUP_TIMEOUT", "30"))
KEEP_HOST_VARIABLES = ("PATH", "LANG", "LC_ALL", "SYSTEMROOT")


def stub_endpoints() -> dict[str, str]:
    """`{service: url}` of the stubs standing in for services LocalStack lacks
    (HARNESS_LAMBDA_STUB_ENDPOINTS, JSON, set by the harness); {} when unset or bad."""
    try:
        endpoints = json.loads(os.environ.get("HARNESS_LAMBDA_STUB_ENDPOINTS") or "{}")
    except ValueError:
        LOG.warning("HARNESS_LAMBDA_STUB_ENDPOINTS is not JSON; no stub endpoints")
        return {}
    if not isinstance(endpoints, dict):
        return {}
    return {str(k): str(v) for k, v in endpoints.items()}


class LocalProcessRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id, function_version)
        self._api = RuntimeApiServer()
        self._process: subprocess.Popen | None = None
        self._env: dict[str, str] = {}
        self._output_lock = threading.Lock()
        self._invocation_output: list[str] = []
        self._all_output: list[str] = []
        self._sandbox = Path(tempfile.mkdtemp(prefix=f"lambda-{id}-"))
        self._interpreter: interpreters.Interpreter | None = None
        self._peak_memory_mb = 0
        self._records = ProcessRecords.from_environment()

    # --- lifecycle ------------------------------------------------------------------------

    def start(self, env_vars: dict[str, str]) -> None:
        config = self.function_version.config
        try:
            self._interpreter = interpreters.resolve(config.runtime)
        except ValueError as exc:
            raise LambdaRuntimeException(str(exc)) from exc
        if self._interpreter.warning:
            self._record(self._interpreter.warning + "\n")
        self._api.start()
        code_dir = str(config.code.get_unzipped_code_location())
        env = {name: os.environ[name] for name in KEEP_HOST_VARIABLES if name in os.environ}
        env.update({k: str(v) for k, v in env_vars.items()})
        for service, url in stub_endpoints().items():
            # A service LocalStack does not emulate is answered by the harness's stub, as
            # its regional endpoint: for code written for AWS (envs/aws) that names none.
            # A function's own setting (envs/local names the stub) wins.
            env.setdefault(f"AWS_ENDPOINT_URL_{service.upper()}", url)
        tmp = self._sandbox / "tmp"
        tmp.mkdir(exist_ok=True)
        env.update(
            {
                "AWS_LAMBDA_RUNTIME_API": self._api.address,
                "LAMBDA_TASK_ROOT": code_dir,
                "LAMBDA_RUNTIME_DIR": str(Path(self._interpreter.path).parent.parent),
                "PYTHONPATH": code_dir,
                "PYTHONUNBUFFERED": "1",
                "PYTHONDONTWRITEBYTECODE": "1",
                "HOME": str(self._sandbox),
                "TMPDIR": str(tmp),
            }
        )
        self._env = env
        self._spawn()

    def _spawn(self) -> None:
        """Start the function process and wait until its handler is imported (init done)."""
        assert self._interpreter is not None
        self._api.reset()
        handler = self.function_version.config.handler
        self._process = subprocess.Popen(
            [self._interpreter.path, "-m", "awslambdaric", handler],
            cwd=self._env["LAMBDA_TASK_ROOT"],
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if self._records:
            try:
                self._records.record(f"lambda-{self.id}", self._process.pid, function=handler)
            except OSError as exc:  # unrecorded, `harness down` could never stop it
                self._kill()
                raise LambdaRuntimeException(f"cannot record the function process: {exc}") from exc
        threading.Thread(target=self._pump_output, args=(self._process,), daemon=True).start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self._api.ready.wait(0.05):
            if self._process.poll() is not None:
                raise LambdaRuntimeException(
                    f"function process exited during init (code {self._process.returncode}):\n"
                    + self.get_logs()
                )
            if time.monotonic() > deadline:
                self._kill()
                raise LambdaRuntimeException(
                    f"function init took longer than {STARTUP_TIMEOUT_SECONDS:.0f} s"
                )
        if self._api.init_error is not None:
            # Like AWS: an init error is reported on the first invocation; keep the process
            # dead so the next invocation re-runs init.
            LOG.warning("init error in %s: %s", self.id, self._api.init_error[:500])

    def stop(self) -> None:
        self._kill()
        self._api.stop()
        shutil.rmtree(self._sandbox, ignore_errors=True)

    def _kill(self) -> None:
        process, self._process = self._process, None
        if self._records and process is not None:
            self._records.forget(f"lambda-{self.id}", process.pid)
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)

    # --- output capture ---------------------------------------------------------------

    def _pump_output(self, process: subprocess.Popen) -> None:
        fd = process.stdout.fileno()
        while True:
            readable, _, _ = select.select([fd], [], [], 0.2)
            if readable:
                with self._output_lock:
                    if not self._read_available(fd):
                        return
            elif process.poll() is not None:
                with self._output_lock:
                    self._read_available(fd)
                return

    def _read_available(self, fd: int) -> bool:
        """Read what the pipe holds now; False at end of file. Caller holds the lock."""
        while select.select([fd], [], [], 0)[0]:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return False
            if not data:
                return False
            self._record(data.decode("utf-8", errors="replace"), locked=True)
        return True

    def _record(self, text: str, locked: bool = False) -> None:
        if not locked:
            with self._output_lock:
                self._record(text, locked=True)
            return
        self._invocation_output.append(text)
        self._all_output.append(text)
        if len(self._all_output) > 2000:
            del self._all_output[:1000]

    def _take_invocation_output(self) -> str:
        """Everything the function printed for this invocation.

        The function writes its output before it posts the response, so by now it sits in
        the pipe: draining under the lock makes the attribution exact, no sleeping.
        """
        with self._output_lock:
            if self._process is not None and self._process.stdout is not None:
                with contextlib.suppress(ValueError):
                    self._read_available(self._process.stdout.fileno())
            text = "".join(self._invocation_output)
            self._invocation_output.clear()
        return text

    # --- invocations --------------------------------------------------------------------

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload.get("invoke-id") or str(uuid.uuid4())
        config = self.function_version.config
        timeout = float(config.timeout)
        if self._process is None or self._process.poll() is not None or self._api.init_error:
            self._respawn_for(request_id)
        started = time.perf_counter()
        status = None
        if self._api.init_error is not None:
            reply = RuntimeReply(self._api.init_error, is_error=True)
            status = "error"
            self._kill()
        else:
            invocation = PendingInvocation(
                request_id=request_id,
                payload=payload["payload"].encode()
                if isinstance(payload["payload"], str)
                else payload["payload"],
                function_arn=payload.get("invoked-function-arn", ""),
                trace_id=payload.get("trace-id", ""),
                deadline_ms=deadline_ms(timeout),
            )
            self._api.submit(invocation)
            reply, status = self._await(invocation, timeout)
        duration_ms = (time.perf_counter() - started) * 1000
        logs = self._framed_logs(request_id, duration_ms, status)
        return InvocationResult(request_id, reply.payload, is_error=reply.is_error, logs=logs)

    def _respawn_for(self, request_id: str) -> None:
        self._kill()
        self._take_invocation_output()
        try:
            self._spawn()
        except LambdaRuntimeException as exc:
            self._api.init_error = json.dumps(
                {"errorType": "Runtime.ExitError", "errorMessage": str(exc)[:4000]}
            ).encode()

    def _await(
        self, invocation: PendingInvocation, timeout: float
    ) -> tuple[RuntimeReply, str | None]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                return invocation.result.result(timeout=min(0.1, max(remaining, 0.001))), None
            except FutureTimeout:
                pass
            process = self._process
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                self._kill()
                message = (
                    f"RequestId: {invocation.request_id} "
                    f"Error: Runtime exited with error: exit status {code}"
                )
                body = json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message})
                return RuntimeReply(body.encode(), is_error=True), "error"
            if remaining <= 0:
                self._peak_memory_mb = self._max_memory_mb()
                self._kill()
                message = f"Task timed out after {timeout:.2f} seconds"
                self._record(
                    f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime())}Z "
                    f"{invocation.request_id} {message}\n"
                )
                body = json.dumps(
                    {
                        "errorType": "Sandbox.Timedout",
                        "errorMessage": f"RequestId: {invocation.request_id} Error: {message}",
                    }
                )
                return RuntimeReply(body.encode(), is_error=True), "timeout"

    def _framed_logs(self, request_id: str, duration_ms: float, status: str | None) -> str:
        config = self.function_version.config
        output = self._take_invocation_output()
        if output and not output.endswith("\n"):
            output += "\n"
        billed = max(1, int(duration_ms + 0.999))
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {billed} ms\tMemory Size: {config.memory_size} MB\t"
            f"Max Memory Used: {self._max_memory_mb() or self._peak_memory_mb} MB"
        )
        if status:
            report += f"\tStatus: {status}"
        return (
            f"START RequestId: {request_id} Version: {self.function_version.id.qualifier}\n"
            f"{output}END RequestId: {request_id}\n{report}\n"
        )

    def _max_memory_mb(self) -> int:
        process = self._process
        return 0 if process is None else int(peak_rss_mb(process.pid))

    # --- addresses --------------------------------------------------------------------

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return "127.0.0.1"

    def get_runtime_endpoint(self) -> str:
        return f"http://{self._api.address}"

    def get_logs(self) -> str:
        with self._output_lock:
            return "".join(self._all_output)

    # --- versions -----------------------------------------------------------------------

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        """Validate the runtime and unzip the code; a bad runtime fails the function early."""
        try:
            interpreters.resolve(function_version.config.runtime)
        except ValueError as exc:
            raise LambdaRuntimeException(str(exc)) from exc
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        """Nothing to clean: the unzipped code belongs to LocalStack's code store."""

    @classmethod
    def validate_environment(cls) -> bool:
        if not interpreters.available():
            LOG.warning(
                "harness: no Lambda interpreters configured in %s; functions will fail",
                interpreters.ENV_VAR,
            )
            return False
        return True
