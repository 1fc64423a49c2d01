"""The composition root: clients made once, and only when a request first uses them; botocore told which services
there are (so it does not stat its whole data folder on a cold start); a function started without a setting it
needs stops at once, naming it; the composition follows the environment without being reset."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import UnknownServiceError

from snapscribe import function_settings, services
from snapscribe.config import MissingSetting, Settings
from snapscribe.jobs.plan import PlanContext
from snapscribe.services import Services, composition
from tests.fakes import make_settings


def test_the_jobs_api_makes_no_queue_or_bucket_client_until_one_is_used(tmp_path: Path) -> None:
    composed = Services(
        make_settings(tmp_path, jobs_table="jobs", bucket_name="files", work_queue_url="q", webhook_queue_url="w")
    )
    jobs = composed.jobs
    assert composed.clients.made() == {"dynamodb"}
    assert jobs.work.client.meta.service_model.service_name == "sqs"  # type: ignore[attr-defined]  # made by first use
    assert composed.clients.made() == {"dynamodb", "sqs"}
    assert jobs.webhooks.client.meta is composed.clients.sqs.meta  # type: ignore[attr-defined]  # one client for both
    assert composed.clients.made() == {"dynamodb", "sqs"}


def test_botocore_knows_the_services_used_and_names_them_for_any_other() -> None:
    session = services.botocore_session()
    for name in services.SERVICES_USED:
        assert session.create_client(name, region_name="us-east-1").meta.service_model.service_name == name
    with pytest.raises(UnknownServiceError, match="dynamodb, s3, sqs"):
        session.create_client("ec2", region_name="us-east-1")


def test_a_function_without_a_setting_it_needs_stops_at_its_start_naming_the_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("SNAPSCRIBE_ACCOUNTS_TABLE", "SNAPSCRIBE_JOBS_TABLE", "SNAPSCRIBE_WEBHOOK_QUEUE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SNAPSCRIBE_JOBS_TABLE", "jobs")
    with pytest.raises(MissingSetting) as refused:
        composition(function_settings.WebhookSettings)
    assert str(refused.value) == (
        "WebhookSettings cannot start: SNAPSCRIBE_ACCOUNTS_TABLE (not set); SNAPSCRIBE_WEBHOOK_QUEUE_URL (not set)"
    )
    monkeypatch.setenv("SNAPSCRIBE_MAX_IMAGES", "many")
    with pytest.raises(MissingSetting, match=r"SNAPSCRIBE_MAX_IMAGES .*valid integer"):
        composition(Settings)


def test_a_resource_its_function_does_not_require_is_named_where_it_is_used(tmp_path: Path) -> None:
    composed = Services(make_settings(tmp_path))
    with pytest.raises(MissingSetting, match="SNAPSCRIBE_JOBS_TABLE is not set"):
        _ = composed.jobs
    composed = Services(make_settings(tmp_path, jobs_table="jobs", bucket_name="files"))
    with pytest.raises(MissingSetting, match="SNAPSCRIBE_WORK_QUEUE_URL is not set"):
        composed.jobs.work.send([{"job": "j", "item": 0}])


def test_the_composition_is_made_once_and_again_only_when_the_environment_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SNAPSCRIBE_ACCOUNTS_TABLE", "accounts")
    current = composition(function_settings.AccountSettings)
    first = current()
    assert current() is first
    monkeypatch.setenv("SNAPSCRIBE_ACCOUNTS_TABLE", "other-accounts")
    assert current() is not first
    assert current().settings.accounts_table == "other-accounts"


def test_a_function_without_a_bucket_uses_the_jobs_table_and_never_asks_for_one(tmp_path: Path) -> None:
    """The webhook function's settings name no bucket: its sender is made on the jobs table and accounts alone."""
    composed = Services(make_settings(tmp_path, accounts_table="accounts", jobs_table="jobs", webhook_queue_url="w"))
    assert composed.webhook_sender.store is composed.jobs.store
    with pytest.raises(MissingSetting, match="SNAPSCRIBE_BUCKET_NAME is not set"):
        composed.jobs.files.plan("alice", "job-1", PlanContext)  # what would need the bucket names it


def test_a_function_that_runs_engines_stops_at_its_start_on_a_list_it_cannot_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("ACCOUNTS_TABLE", "IDEMPOTENCY_TABLE", "BUCKET_NAME", "JOBS_TABLE", "WORK_QUEUE_URL"):
        monkeypatch.setenv(f"SNAPSCRIBE_{name}", "x")
    monkeypatch.setenv("SNAPSCRIBE_ENGINES", "bedrock:amazon.nova-lite-v1:0,tesseract")
    with pytest.raises(MissingSetting, match="SNAPSCRIBE_ENGINES is not valid: unknown engine 'tesseract'"):
        composition(function_settings.ChargingApiSettings)
    monkeypatch.setenv("SNAPSCRIBE_ENGINES", "bedrock:amazon.nova-lite-v1:0,textract=15")
    offered = composition(function_settings.ChargingApiSettings)().engines.allowed()
    assert offered == ["bedrock:amazon.nova-lite-v1:0", "local", "textract"]
    composition(function_settings.AccountSettings)  # a function without engines never reads the list
