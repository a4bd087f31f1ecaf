"""Shared fixtures live in tests/fixtures/; this file only wires them in."""

pytest_plugins = [
    "tests.fixtures.databases",
    "tests.fixtures.held_download",
    "tests.fixtures.fakes",
    "tests.fixtures.app",
    "tests.fixtures.installs",
    "tests.fixtures.s3",
    "tests.fixtures.clock",
    "tests.fixtures.logs",
    "tests.fixtures.replicas",
    "tests.fixtures.browser",
]
