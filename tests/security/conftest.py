"""Fixtures of the security tests, one module per boundary: the real
appliance and carrier come from tests/conftest.py (``pbx``, ``appliance``,
``carrier``); the panel's Flask fixtures from tests/web/conftest.py."""
from __future__ import annotations

from tests.web.conftest import browser, panel  # noqa: F401 (fixtures)
