"""A job's files in the bucket, under jobs/<owner>/<job_id>/: its plan and inputs, each item's output, and the
result when it is too large for the job's record. A lifecycle rule expires them with the job."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from snapscribe.storage.keys import JOBS_PREFIX
from snapscribe.storage.uploads import ObjectStore

if TYPE_CHECKING:  # imported when a plan is read: the plan's module imports the image code
    from snapscribe.jobs.plan import PlanContext, WorkPlan

READS_IN_PARALLEL = 16


class JobFiles:
    def __init__(self, objects: ObjectStore, *, max_input_bytes: int) -> None:
        self._objects = objects
        self._max_input_bytes = max_input_bytes

    @staticmethod
    def folder(owner: str, job_id: str) -> str:
        return f"{JOBS_PREFIX}{owner}/{job_id}/"

    def put_plan(self, owner: str, job_id: str, plan: WorkPlan) -> None:
        folder = self.folder(owner, job_id)
        for name, data in plan.inputs.items():
            self._objects.put_bytes(f"{folder}inputs/{name}", data)
        self._objects.put_json(f"{folder}plan.json", plan.to_json())

    def plan(self, owner: str, job_id: str, context: type[PlanContext]) -> WorkPlan:
        folder = self.folder(owner, job_id)
        document = self._objects.get_json(f"{folder}plan.json")
        if document is None:
            raise LookupError(f"job {job_id} has no plan")
        inputs = {}
        names = document.get("inputs", [])
        for name in names if isinstance(names, list) else []:
            data = self._objects.read(f"{folder}inputs/{name}", max_bytes=self._max_input_bytes)
            if data is None:
                raise LookupError(f"job {job_id} lost its input {name}")
            inputs[str(name)] = data
        from snapscribe.jobs.plan import WorkPlan

        return WorkPlan.from_json(dict(document), inputs, context)

    def put_output(self, owner: str, job_id: str, index: int, output: str) -> str:
        """An item's output too large for its record; the key it is kept under."""
        key = f"{self.folder(owner, job_id)}items/{index:05d}.json"
        self._objects.put_bytes(key, output.encode("utf-8"), content_type="application/json")
        return key

    def outputs(self, keys: dict[int, str]) -> dict[int, dict[str, Any]]:
        """The outputs kept in the bucket, by item index."""

        def read(entry: tuple[int, str]) -> tuple[int, dict[str, Any] | None]:
            return entry[0], self._objects.get_json(entry[1])

        with ThreadPoolExecutor(max_workers=READS_IN_PARALLEL, thread_name_prefix="output") as pool:
            found = dict(pool.map(read, keys.items()))
        missing = sorted(index for index, output in found.items() if output is None)
        if missing:
            raise LookupError(f"the outputs of items {missing[:5]} are gone")
        return {index: dict(output) for index, output in found.items() if output is not None}

    def put_result(self, owner: str, job_id: str, body: str) -> str:
        key = f"{self.folder(owner, job_id)}result.json"
        self._objects.put_bytes(key, body.encode("utf-8"), content_type="application/json")
        return key

    def result_url(self, key: str, expires_in: int) -> str:
        return self._objects.presigned_get(key, expires_in=expires_in)
