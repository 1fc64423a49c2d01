"""Create the template's tables and bucket (in moto, locally and in tests) from its own definitions."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from snapscribe_tools.template import Resolver, resources

TABLE_TYPE = "AWS::DynamoDB::Table"
BUCKET_TYPE = "AWS::S3::Bucket"
QUEUE_TYPE = "AWS::SQS::Queue"


def local_names(template: Mapping[str, Any], prefix: str = "snapscribe-local") -> dict[str, str]:
    """Physical names for the local copies: what CloudFormation would generate, made readable."""
    names = {}
    for logical_id in resources(template, TABLE_TYPE):
        names[logical_id] = f"{prefix}-{logical_id}"
    for logical_id in resources(template, QUEUE_TYPE):
        names[logical_id] = f"{prefix}-{logical_id}"
    pseudo_only = Resolver(template, {}, {})
    for logical_id, bucket in resources(template, BUCKET_TYPE).items():
        explicit = bucket.get("Properties", {}).get("BucketName")
        # A computed BucketName (from pseudo parameters) resolves to the same name the functions compute.
        names[logical_id] = str(pseudo_only.resolve(explicit)) if explicit else f"{prefix}-{logical_id}".lower()
    return names


def table_definition(properties: Mapping[str, Any], name: str) -> dict[str, Any]:
    """CreateTable arguments from an AWS::DynamoDB::Table's properties."""
    definition: dict[str, Any] = {
        "TableName": name,
        "KeySchema": properties["KeySchema"],
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "BillingMode": properties.get("BillingMode", "PROVISIONED"),
    }
    if definition["BillingMode"] == "PROVISIONED":
        definition["ProvisionedThroughput"] = properties["ProvisionedThroughput"]
    if "GlobalSecondaryIndexes" in properties:
        definition["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
    if "SSESpecification" in properties:
        definition["SSESpecification"] = {"Enabled": bool(properties["SSESpecification"].get("SSEEnabled"))}
    return definition


def create_tables(template: Mapping[str, Any], dynamodb: Any, names: Mapping[str, str]) -> None:
    for logical_id, resource in resources(template, TABLE_TYPE).items():
        properties = resource["Properties"]
        dynamodb.create_table(**table_definition(properties, names[logical_id]))
        ttl = properties.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=names[logical_id], TimeToLiveSpecification=ttl)


def _lifecycle_rules(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    converted = []
    for rule in rules:
        api_rule: dict[str, Any] = {
            "ID": rule["Id"],
            "Status": rule["Status"],
            "Filter": {"Prefix": rule.get("Prefix", "")},
        }
        if "ExpirationInDays" in rule:
            api_rule["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
        if "AbortIncompleteMultipartUpload" in rule:
            days = int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
            api_rule["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
        converted.append(api_rule)
    return converted


def create_buckets(template: Mapping[str, Any], s3: Any, names: Mapping[str, str], resolver: Resolver) -> None:
    for logical_id, resource in resources(template, BUCKET_TYPE).items():
        properties = resolver.resolve(resource.get("Properties", {}))
        bucket = names[logical_id]
        s3.create_bucket(Bucket=bucket)
        if "BucketEncryption" in properties:
            # CloudFormation and the S3 API spell the same rule differently.
            rules = [
                {
                    "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                    **({"BucketKeyEnabled": rule["BucketKeyEnabled"]} if "BucketKeyEnabled" in rule else {}),
                }
                for rule in properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules})
        if "PublicAccessBlockConfiguration" in properties:
            s3.put_public_access_block(
                Bucket=bucket, PublicAccessBlockConfiguration=properties["PublicAccessBlockConfiguration"]
            )
        lifecycle = properties.get("LifecycleConfiguration", {}).get("Rules")
        if lifecycle:
            s3.put_bucket_lifecycle_configuration(
                Bucket=bucket, LifecycleConfiguration={"Rules": _lifecycle_rules(lifecycle)}
            )


def create_queues(template: Mapping[str, Any], sqs: Any, names: Mapping[str, str], resolver: Resolver) -> None:
    """Every AWS::SQS::Queue with its attributes; a dead-letter queue before the queues that redrive to it."""
    queues = resources(template, QUEUE_TYPE)
    ordered = sorted(queues, key=lambda logical_id: "RedrivePolicy" in queues[logical_id].get("Properties", {}))
    for logical_id in ordered:
        properties = resolver.resolve(queues[logical_id].get("Properties", {}))
        attributes = {
            name: str(properties[name])
            for name in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds")
            if name in properties
        }
        if "RedrivePolicy" in properties:
            attributes["RedrivePolicy"] = json.dumps(properties["RedrivePolicy"])
        sqs.create_queue(QueueName=names[logical_id], Attributes=attributes)


def create_all(template: Mapping[str, Any], session: Any, names: Mapping[str, str], resolver: Resolver) -> None:
    create_tables(template, session.client("dynamodb"), names)
    create_buckets(template, session.client("s3"), names, resolver)
    create_queues(template, session.client("sqs"), names, resolver)
