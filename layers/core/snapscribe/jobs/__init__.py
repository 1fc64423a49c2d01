"""Work bigger than one request: plans of items, run in one invocation or as a job on SQS."""
