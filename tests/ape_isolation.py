"""Replacements for ape's per-scope chain snapshots, for suites that manage chain state themselves.

Import these into a suite's conftest.py to switch ape's session, package, module and class isolation
off; each suite defines its own `_function_isolation`.
"""

import pytest


@pytest.fixture(scope="session")
def _session_isolation():
    yield


@pytest.fixture(scope="package")
def _package_isolation():
    yield


@pytest.fixture(scope="module")
def _module_isolation():
    yield


@pytest.fixture(scope="class")
def _class_isolation():
    yield
