"""Loopback stand-ins for the AWS services an engine calls, for tests and `make run` without AWS."""
