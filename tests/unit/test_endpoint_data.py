"""The endpoint data the functions' botocore reads (services.ENDPOINTS_FILE: botocore's endpoints.json cut to the
services used): it is the installed botocore's own, cut; every service used resolves from it as from the whole, in
every region of every partition; and a client made on it sends each request to the URL, signed for the region and
service, that botocore's own session would."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import BotoCoreError
from botocore.loaders import Loader
from botocore.regions import EndpointResolver

from snapscribe import services

WHOLE: dict[str, Any] = json.loads(Path(Loader.BUILTIN_DATA_PATH, "endpoints.json").read_text(encoding="utf-8"))
REGENERATE = (
    "python -c 'import json, os, botocore.loaders as l; from snapscribe import services; "
    "services.ENDPOINTS_FILE.write_text(json.dumps(services.endpoints_of_the_services_used(json.load(open("
    'os.path.join(l.Loader.BUILTIN_DATA_PATH, "endpoints.json")))), indent=1, sort_keys=True) + "\\n")\''
)


def test_the_stored_endpoint_data_is_the_installed_botocores_cut_to_the_services_used() -> None:
    stored = json.loads(services.ENDPOINTS_FILE.read_text(encoding="utf-8"))
    assert stored == services.endpoints_of_the_services_used(WHOLE), f"stale after a botocore update: {REGENERATE}"
    kept = {name for partition in stored["partitions"] for name in partition["services"]}
    assert kept <= set(services.SERVICES_USED)
    assert {"dynamodb", "s3", "sqs", "ssm"} <= kept  # bedrock-runtime is in no partition's table (its rules alone)


def _resolved(resolver: EndpointResolver, name: str, region: str, arguments: dict[str, bool]) -> Any:
    """The endpoint, or the error botocore raises (a variant the partition does not offer)."""
    try:
        return resolver.construct_endpoint(name, region, **arguments)
    except BotoCoreError as error:
        return type(error).__name__, str(error)


def test_every_service_used_resolves_from_the_cut_data_as_from_the_whole_in_every_region() -> None:
    whole = EndpointResolver(WHOLE, uses_builtin_data=True)
    cut = EndpointResolver(json.loads(services.ENDPOINTS_FILE.read_text(encoding="utf-8")), uses_builtin_data=True)
    regions = [region for partition in WHOLE["partitions"] for region in partition["regions"]]
    assert len(regions) > 30
    compared = 0
    for name, region, fips, dualstack in itertools.product(
        services.SERVICES_USED, [*regions, "aws-global", "xx-newregion-1"], (False, True), (False, True)
    ):
        arguments = {"use_fips_endpoint": fips, "use_dualstack_endpoint": dualstack}
        assert _resolved(cut, name, region, arguments) == _resolved(whole, name, region, arguments)
        compared += 1
    for name in services.SERVICES_USED:
        assert cut.get_available_endpoints(name) == whole.get_available_endpoints(name)
    for region in regions:
        assert cut.get_partition_for_region(region) == whole.get_partition_for_region(region)
    assert compared == len(services.SERVICES_USED) * (len(regions) + 2) * 4


class _Sent(Exception):
    def __init__(self, request: Any) -> None:
        self.request = request


def _sent(session: Any, name: str, region: str, operation: str, parameters: dict[str, Any]) -> tuple[str, str]:
    """The URL and the credential scope of the request a client of `session` sends (stopped before it is sent)."""
    client = session.create_client(
        name, region_name=region, aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret"
    )

    def stop(request: Any, **_: Any) -> None:
        raise _Sent(request)

    client.meta.events.register("before-send", stop)
    with pytest.raises(_Sent) as sent:
        getattr(client, operation)(**parameters)
    authorization = sent.value.request.headers["Authorization"].decode()
    scope = authorization.split("Credential=", 1)[1].split(",", 1)[0].split("/", 2)[2]  # date/region/service/...
    return sent.value.request.url, scope


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1"])
def test_a_client_on_the_cut_data_sends_where_and_signs_as_botocores_own(
    region: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(variable)  # as in AWS: no endpoint given, the data and rules choose
    calls = [
        ("dynamodb", "get_item", {"TableName": "accounts", "Key": {"pk": {"S": "k"}}}),
        ("s3", "get_object", {"Bucket": "files", "Key": "tmp/a.png"}),
        ("sqs", "send_message", {"QueueUrl": f"https://sqs.{region}.amazonaws.com/1/work", "MessageBody": "{}"}),
        ("ssm", "get_parameter", {"Name": "/snapscribe/key", "WithDecryption": True}),
        ("textract", "detect_document_text", {"Document": {"Bytes": b"page"}}),
        ("bedrock-runtime", "converse", {"modelId": "amazon.nova-lite-v1:0", "messages": []}),
    ]
    ours, botocores = services.new_botocore_session(), botocore.session.get_session()
    for name, operation, parameters in calls:
        if name in ("textract", "bedrock-runtime") and not region.startswith(("us-east", "eu-", "ap-")):
            continue  # not offered in that partition
        assert _sent(ours, name, region, operation, parameters) == _sent(
            botocores, name, region, operation, parameters
        ), (name, region)


def test_the_functions_botocore_reads_the_cut_data_as_botocores_own_file() -> None:
    loader = services.new_botocore_session().get_component("data_loader")
    data, path = loader.load_data_with_path("endpoints")
    assert data == json.loads(services.ENDPOINTS_FILE.read_text(encoding="utf-8"))
    assert sum(len(partition["services"]) for partition in data["partitions"]) < 40  # the whole has thousands
    assert loader.is_builtin_path(path)  # else botocore would hand its legacy endpoint to the rules as the caller's
    assert loader.load_data_with_path("partitions")[0] == Loader().load_data_with_path("partitions")[0]
