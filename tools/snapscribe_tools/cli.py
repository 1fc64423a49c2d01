"""`snapscribe`: run the local stack, invoke a handler with an event, manage API keys, look into and redrive the
dead-letter queues (dlq.py)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Only the standard library at the top: the client's commands (submit, jobs, account) run where the package is
# installed with its small dependencies alone (`pip install ".[client]"`). Each command imports what it needs.
SAMPLE_REQUEST = "samples/extract-image.json"
IN_MEMORY_WARNING = "Warning: its AWS is in memory (moto): a restart forgets keys, jobs and balances."


# --- keys ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KeyTarget:
    """Where keys live, and what a new key gets unless told: the deployment's own parameters."""

    accounts: Any  # AccountService
    starting_credits: int
    default_rate_limit: int


def _template_parameters(overrides: dict[str, str] | None = None) -> dict[str, str]:
    from snapscribe_tools.template import load_template, parameter_defaults

    return {**parameter_defaults(load_template()), **(overrides or {})}


def _key_target(args: argparse.Namespace) -> KeyTarget:
    """--local (the running `make run` stack), --stack NAME (a deployed stack: its table and parameters), or
    --table NAME (a table alone: the template's default parameters)."""
    import boto3

    from snapscribe.accounts.dynamodb import DynamoAccountStore
    from snapscribe.accounts.service import AccountService
    from snapscribe_tools.stack import LOCAL_PARAMETERS, base_environment, read_state

    table = args.table
    endpoint = None
    parameters = _template_parameters()
    if args.local or (table is None and args.stack is None):
        state = read_state()
        if state is None:
            raise SystemExit("No local stack is running (start it with `make run`), and no --table/--stack given.")
        os.environ.update({k: v for k, v in base_environment(state["awsEndpoint"]).items() if k.startswith("AWS_")})
        endpoint = state["awsEndpoint"]
        table = state["names"]["AccountsTable"]
        parameters = _template_parameters(LOCAL_PARAMETERS)
    elif args.stack:
        stack = boto3.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
        table = next(o["OutputValue"] for o in stack.get("Outputs", []) if o["OutputKey"] == "AccountsTableName")
        deployed = {item["ParameterKey"]: item.get("ParameterValue", "") for item in stack.get("Parameters", [])}
        parameters = _template_parameters(deployed)
    client = boto3.client("dynamodb", endpoint_url=endpoint)
    return KeyTarget(
        accounts=AccountService(DynamoAccountStore(client, table)),
        starting_credits=int(parameters["StartingCredits"]),
        default_rate_limit=int(parameters["DefaultRateLimit"]),
    )


def cmd_keys(args: argparse.Namespace) -> int:
    target = _key_target(args)
    service = target.accounts
    store = service.store
    if args.keys_command == "create":
        credits = args.credits if args.credits is not None else target.starting_credits
        rate_limit = args.rate_limit or target.default_rate_limit
        raw_key, record = service.create_key(
            user_id=args.user, credits=credits, rate_limit=rate_limit, raw_key=args.key, label=args.label or ""
        )
        print(
            json.dumps(
                {
                    "apiKey": raw_key,
                    "keyId": record.key_id,
                    "userId": record.user_id,
                    "rateLimit": record.rate_limit,
                    "balance": store.get_balance(record.user_id),
                    "webhookSecret": service.webhook_secret(record.key_id),
                },
                indent=2,
            )
        )
        print(
            "Store the key now: it is kept only as a hash and cannot be shown again. The webhook secret verifies "
            "the webhooks of this key's jobs (Standard Webhooks); `keys webhook-secret KEY_ID` replaces it.",
            file=sys.stderr,
        )
    elif args.keys_command == "list":
        for record in store.list_keys():
            status = "revoked" if record.revoked else "active"
            print(
                f"{record.key_id}\t{record.user_id}\t{status}\t{record.rate_limit}/min\t"
                f"balance={store.get_balance(record.user_id)}\t{record.created_at}\t{record.label}"
            )
    elif args.keys_command == "revoke":
        if not store.revoke_key(args.key_id):
            print(f"No key with id {args.key_id}", file=sys.stderr)
            return 1
        print(f"Revoked {args.key_id}")
    elif args.keys_command == "webhook-secret":
        secret = service.rotate_webhook_secret(args.key_id)
        if secret is None:
            print(f"No key with id {args.key_id}", file=sys.stderr)
            return 1
        print(json.dumps({"keyId": args.key_id, "webhookSecret": secret}))
        print("Webhooks of this key's jobs are signed with this secret from now on.", file=sys.stderr)
    elif args.keys_command == "topup":
        balance = store.add_credits(args.user, args.credits)
        print(json.dumps({"userId": args.user, "balance": balance}))
    return 0


# --- run -----------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    import logging

    from snapscribe_tools.stack import LocalStack
    from snapscribe_tools.template import PROJECT_ROOT

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stack = LocalStack(port=args.port, host=args.host, parameters=_parameters(args.parameter))
    try:
        stack.start()
    except OSError as error:
        print(f"Could not start the local stack on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    api_key, webhook_secret = stack.create_dev_key(
        args.dev_key or None, credits=args.credits, rate_limit=args.rate_limit
    )
    sample = PROJECT_ROOT / SAMPLE_REQUEST
    print(
        f"""
snapscribe is running on {stack.url} (engine: local, offline; AWS: moto at {stack.moto_endpoint})
{IN_MEMORY_WARNING}

  dev API key: {api_key}   ({args.credits} credits, {args.rate_limit} requests/min)
  its webhook secret: {webhook_secret}   (verifies the webhooks of its jobs)

Try it (from {PROJECT_ROOT}):

  curl -sS -X POST {stack.url}/api/v1/extract-image \\
    -H "Authorization: Bearer {api_key}" -H "Content-Type: application/json" \\
    -d @{SAMPLE_REQUEST}

Supported formats:  curl -sS {stack.url}/api/v1/extract-image -H "X-API-Key: {api_key}"
Files as jobs:      SNAPSCRIBE_API_KEY={api_key} .venv/bin/snapscribe submit FILE... --wait --out results/
Manage keys:        .venv/bin/snapscribe keys list --local
Press Ctrl-C to stop.
""".rstrip()
        + ("" if sample.exists() else f"\n(warning: {SAMPLE_REQUEST} is missing)"),
        flush=True,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    # Ctrl-C stops it even when started from a background job, whose shell hands it SIGINT ignored (Python
    # then installs no KeyboardInterrupt handler of its own).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    print("\nStopping...", flush=True)
    stack.stop()
    print("Stopped.")
    return 0


# --- invoke --------------------------------------------------------------------------------------
def _parameters(pairs: list[str] | None) -> dict[str, str]:
    """Template parameters given as KEY=VALUE (sam deploy's --parameter-overrides)."""
    parameters = {}
    for pair in pairs or []:
        name, separator, value = pair.partition("=")
        if not separator or not name:
            raise SystemExit(f"--parameter takes KEY=VALUE, not {pair!r}")
        parameters[name] = value
    return parameters


def cmd_invoke(args: argparse.Namespace) -> int:
    """Like `sam local invoke -e`, without Docker: against a fresh in-memory AWS with the template's
    resources, where the API key the event carries exists with credits; or, with --local, against the
    running `make run` stack (run the housekeeping now, say)."""
    event = json.loads(Path(args.event).read_text())
    if args.local:
        from snapscribe_tools.invoke import invoke_on_running_stack

        result = invoke_on_running_stack(args.function, event)
    else:
        from moto import mock_aws

        from snapscribe_tools.invoke import invoke_with_fresh_aws

        with mock_aws():
            result = invoke_with_fresh_aws(args.function, event, seed_key=not args.no_seed)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


# --- the client: submit, jobs, account --------------------------------------------------------------
def _client_call(args: argparse.Namespace, call: Any) -> int:
    from snapscribe_tools.client import ClientError, api_from

    try:
        return int(call(api_from(args.api, args.key)))
    except ClientError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def cmd_submit(args: argparse.Namespace) -> int:
    from snapscribe_tools.client import submit

    return _client_call(
        args,
        lambda api: submit(
            api,
            [Path(name) for name in args.files],
            engine=args.engine,
            wait_for_jobs=args.wait,
            out=Path(args.out) if args.out else None,
            show_progress=not args.quiet,
        ),
    )


def _print_json(value: Any) -> int:
    print(json.dumps(value, indent=2, ensure_ascii=False))
    return 0


def cmd_jobs(args: argparse.Namespace) -> int:
    if args.jobs_command == "list":

        def listing(api: Any) -> int:
            for job in api.jobs(args.limit):
                progress = job["progress"]
                print(
                    f"{job['jobId']}\t{job['status']}\t{job['route']}\t{progress['done']}/{progress['total']} done"
                    f"\t{progress['failed']} failed\t{job['createdAt']}"
                )
            return 0

        return _client_call(args, listing)
    if args.jobs_command == "get":

        def showing(api: Any) -> int:
            job = api.job(args.job_id)
            if args.result and job.get("resultUrl"):
                job["result"] = api.result(job)
            return _print_json(job)

        return _client_call(args, showing)
    return _client_call(args, lambda api: _print_json(api.cancel(args.job_id)))


def cmd_account(args: argparse.Namespace) -> int:
    return _client_call(args, lambda api: _print_json(api.account()))


def cmd_smoke(args: argparse.Namespace) -> int:
    from snapscribe_tools.smoke import SAMPLE_IMAGE, smoke_test

    api, key = args.api or os.environ.get("SNAPSCRIBE_API_URL"), args.key or os.environ.get("SNAPSCRIBE_API_KEY")
    image = Path(args.image) if args.image else SAMPLE_IMAGE
    if not api or not key:
        print("error: smoke needs --api URL (the stack's ApiUrl output) and --key KEY", file=sys.stderr)
        return 2
    if not image.is_file():
        print(f"error: no image at {image} (--image PATH names another PNG)", file=sys.stderr)
        return 2
    return smoke_test(api, key, image=image, engine=args.engine, timeout=args.timeout)


def cmd_licenses(args: argparse.Namespace) -> int:
    from snapscribe_tools.licenses import main as licences

    return licences(["--check"] if args.check else [])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="snapscribe", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="start the local stack")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 3000))
    run.add_argument("--dev-key", default=os.environ.get("DEV_API_KEY", ""))
    run.add_argument("--credits", type=int, default=1_000_000)
    run.add_argument("--rate-limit", type=int, default=600)
    run.add_argument(
        "--parameter",
        action="append",
        metavar="KEY=VALUE",
        help="a template parameter, e.g. WorkerMaximumConcurrency=1 (repeatable)",
    )
    run.set_defaults(handler=cmd_run)

    invoke = commands.add_parser("invoke", help="run a handler with an event, as `sam local invoke -e`")
    invoke.add_argument("function", help="logical id in template.yaml, e.g. ExtractImageFunction")
    invoke.add_argument("--event", "-e", required=True)
    invoke.add_argument("--no-seed", action="store_true", help="do not create the event's API key first")
    invoke.add_argument("--local", action="store_true", help="against the running local stack (make run)")
    invoke.set_defaults(handler=cmd_invoke)

    keys = commands.add_parser("keys", help="manage API keys and credits")
    target = argparse.ArgumentParser(add_help=False)
    where = target.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="the running local stack (default)")
    where.add_argument("--table", help="the accounts table in AWS (AccountsTableName output)")
    where.add_argument("--stack", help="a deployed stack's name: its AccountsTableName output")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_commands.add_parser("create", parents=[target], help="create a key (printed once)")
    create.add_argument("--user", help="user id (new one if omitted)")
    create.add_argument("--credits", type=int, help="default: the deployment's StartingCredits parameter")
    create.add_argument("--rate-limit", type=int, help="default: the deployment's DefaultRateLimit parameter")
    create.add_argument("--label")
    create.add_argument("--key", help="use this key instead of a random one (development only)")
    keys_commands.add_parser("list", parents=[target], help="list keys (never the keys themselves)")
    revoke = keys_commands.add_parser("revoke", parents=[target], help="revoke a key by its id")
    revoke.add_argument("key_id")
    rotate = keys_commands.add_parser(
        "webhook-secret", parents=[target], help="replace a key's webhook signing secret (printed once)"
    )
    rotate.add_argument("key_id")
    topup = keys_commands.add_parser("topup", parents=[target], help="add credits to a user's balance")
    topup.add_argument("user")
    topup.add_argument("credits", type=int)
    keys.set_defaults(handler=cmd_keys)

    client = argparse.ArgumentParser(add_help=False)
    client.add_argument("--api", help="the API's base URL (default: $SNAPSCRIBE_API_URL, else the running make run)")
    client.add_argument("--key", help="an API key (default: $SNAPSCRIBE_API_KEY)")
    submit = commands.add_parser(
        "submit", parents=[client], help="upload files and extract their text as jobs (five files a job)"
    )
    submit.add_argument("files", nargs="+", metavar="FILE", help="PDFs or images")
    submit.add_argument("--engine", choices=("local", "gemini"), default="local")
    submit.add_argument("--wait", action="store_true", help="follow the jobs with a progress bar, then fetch results")
    submit.add_argument("--out", metavar="DIR", help="with --wait: write each file's text and pages here")
    submit.add_argument("--quiet", action="store_true", help="no progress bars")
    submit.set_defaults(handler=cmd_submit)
    jobs = commands.add_parser("jobs", help="your jobs: list, get, cancel")
    jobs_commands = jobs.add_subparsers(dest="jobs_command", required=True)
    listed = jobs_commands.add_parser("list", parents=[client], help="newest first")
    listed.add_argument("--limit", type=int, default=20)
    got = jobs_commands.add_parser("get", parents=[client], help="a job's status, progress and result")
    got.add_argument("job_id")
    got.add_argument("--result", action="store_true", help="also fetch a result kept behind a URL")
    cancelled = jobs_commands.add_parser("cancel", parents=[client], help="stop a job; what was not run is refunded")
    cancelled.add_argument("job_id")
    jobs.set_defaults(handler=cmd_jobs)
    account = commands.add_parser("account", parents=[client], help="your balance, rate limit and recent usage")
    account.set_defaults(handler=cmd_account)
    smoke = commands.add_parser(
        "smoke", help="one request to each API with a sample image: a pass/fail table (exit 1 on any failure)"
    )
    smoke.add_argument("--api", help="the API's base URL, e.g. the ApiUrl output (default: $SNAPSCRIBE_API_URL)")
    smoke.add_argument("--key", help="an API key (default: $SNAPSCRIBE_API_KEY)")
    smoke.add_argument("--image", help="a PNG to send instead of samples/invoice.png")
    smoke.add_argument("--engine", default="local", help="the engine batch extraction names (default: local)")
    smoke.add_argument("--timeout", type=float, default=180, help="seconds the upload's check and the job may take")
    smoke.set_defaults(handler=cmd_smoke)
    from snapscribe_tools.dlq import add_commands

    add_commands(commands)  # dlq list, dlq redrive
    licences = commands.add_parser(
        "licenses", help="write THIRD_PARTY_LICENSES.md (--check: fail if stale, unknown or forbidden)"
    )
    licences.add_argument("--check", action="store_true", help="compare with the committed file; write nothing")
    licences.set_defaults(handler=cmd_licenses)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except SystemExit:
        raise
    except ModuleNotFoundError as error:  # a client-only install (`pip install ".[client]"`) running an admin command
        print(
            f"error: `snapscribe {args.command}` needs the developer environment (make; requirements/dev.txt), "
            f"not the client's alone: {error}",
            file=sys.stderr,
        )
        return 2
    except Exception as error:
        from snapscribe.errors import SnapscribeError

        if isinstance(error, SnapscribeError):
            print(f"error: {error.message}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    raise SystemExit(main())
