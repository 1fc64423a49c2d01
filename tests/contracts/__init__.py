"""Contract suites: the same tests run against each port's fake (tests/fakes/) and its adapter on moto, so that a
fake which behaves otherwise than its adapter fails here rather than misleading the unit tests built on it."""
