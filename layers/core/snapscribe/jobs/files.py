"""A job's files in the bucket, under jobs/<owner>/<job_id>/: its plan and inputs, each item's output, and the
result when it is too large for the job's record. A lifecycle rule expires them with the job."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from snapscribe.jobs.plan import WorkPlan
from snapscribe.storage.keys import JOBS_PREFIX
from snapscribe.storage.uploads import ObjectStore

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

    def plan(self, owner: str, job_id: str) -> WorkPlan:
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
        return WorkPlan.from_json(dict(document), inputs)

    def put_output(self, owner: str, job_id: str, index: int, output: dict[str, Any]) -> None:
        self._objects.put_json(f"{self.folder(owner, job_id)}items/{index:05d}.json", output)

    def outputs(self, owner: str, job_id: str, indexes: list[int]) -> dict[int, dict[str, Any]]:
        folder = self.folder(owner, job_id)

        def read(index: int) -> tuple[int, dict[str, Any] | None]:
            return index, self._objects.get_json(f"{folder}items/{index:05d}.json")

        with ThreadPoolExecutor(max_workers=READS_IN_PARALLEL, thread_name_prefix="output") as pool:
            found = dict(pool.map(read, indexes))
        missing = [index for index, output in found.items() if output is None]
        if missing:
            raise LookupError(f"job {job_id} lost the outputs of items {missing[:5]}")
        return {index: dict(output) for index, output in found.items() if output is not None}

    def put_result(self, owner: str, job_id: str, body: str) -> str:
        key = f"{self.folder(owner, job_id)}result.json"
        self._objects.put_bytes(key, body.encode("utf-8"), content_type="application/json")
        return key

    def result_url(self, key: str, expires_in: int) -> str:
        return self._objects.presigned_get(key, expires_in=expires_in)
