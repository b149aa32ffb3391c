"""The local Personalize service: one store, its job runner, the operations table and the runtime, behind
the two calls the HTTP server makes (`call` for the control plane, `call_runtime` for the runtime).
Every call is checked against botocore's input shape, fault rules and the caller's IAM policies first."""

from __future__ import annotations

from typing import Any

from objective_sweep.localcloud.authorizer import Authorizer
from objective_sweep.personalize.access import Access
from objective_sweep.personalize.faults import Faults
from objective_sweep.personalize.imports import S3Reader
from objective_sweep.personalize.jobs import JobRunner
from objective_sweep.personalize.operations import OPERATIONS, Context, Operations
from objective_sweep.personalize.protocol import ApiError, project, service_model, validate_request
from objective_sweep.personalize.records import ACCOUNT, Store, to_wire
from objective_sweep.personalize.runtime import Runtime


class PersonalizeService:
    """Operations by name; every public entry point is thread-safe."""

    def __init__(
        self,
        *,
        s3_endpoint_url: str | None = None,
        faults: Faults | None = None,
        status_delay: float = 0.05,
        training_workers: int = 2,
        authorizer: Authorizer | None = None,
    ) -> None:
        self.faults = faults or Faults()
        self._store = Store()
        self._access = Access(authorizer, ACCOUNT)
        self._jobs = JobRunner(
            self._store, self.faults, status_delay=status_delay, training_workers=training_workers
        )
        self._operations = Operations(
            self._store, self._jobs, self._access, S3Reader(s3_endpoint_url, authorizer)
        )
        self._runtime = Runtime(self._store)

    def computing(self) -> bool:
        """Whether some job's real work is running now; an injected delay (faults) does not count."""
        return self._jobs.computing()

    def shutdown(self) -> None:
        """Stop background work; jobs that are waiting end at once, a running fit finishes first."""
        self._jobs.shutdown()

    def call(
        self, operation: str, params: dict[str, Any], region: str, caller: str | None = None
    ) -> dict[str, Any]:
        """Run a control-plane operation: validate against botocore's input shape, authorize the caller,
        answer the output shape."""
        model = service_model("personalize")
        if operation not in model.operation_names:
            raise ApiError("UnknownOperationException", f"{operation} is not an Amazon Personalize operation")
        handler = OPERATIONS.get(operation)
        if handler is None:
            raise ApiError(
                "UnknownOperationException",
                f"The local Personalize endpoint does not implement {operation}; it implements "
                f"{', '.join(self.implemented_operations())}.",
            )
        self.faults.check_throttle(operation)
        op_model = model.operation_model(operation)
        validate_request(op_model.input_shape, params)
        self._access.authorize(operation, params, region, caller)
        result = handler(self._operations, params, Context(region, caller=caller))
        if op_model.output_shape is None:
            return {}
        # Answers hold live records; background jobs change them under the same lock.
        with self._store.transaction():
            return dict(project(to_wire(result), op_model.output_shape))

    def call_runtime(
        self, operation: str, params: dict[str, Any], region: str, caller: str | None = None
    ) -> dict[str, Any]:
        """Run GetRecommendations or GetPersonalizedRanking, checked like a control-plane call."""
        self.faults.check_throttle(operation)
        validate_request(service_model("personalize-runtime").operation_model(operation).input_shape, params)
        self._access.authorize(operation, params, region, caller)
        if operation == "GetRecommendations":
            return self._runtime.get_recommendations(params)
        return self._runtime.get_personalized_ranking(params)

    @staticmethod
    def implemented_operations() -> list[str]:
        return sorted(OPERATIONS)
