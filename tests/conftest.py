"""Fixtures: one sandboxed appliance and one carrier per test module, a leak
check after every test."""
from __future__ import annotations

import pytest

from tests.harness import rootfs_path, start_pair, stop_pair, wait_for

import os

# KORUND_TEST_SLOT=N lets several suites run side by side on one machine: each
# slot has its own addresses, RTP ports and sandbox directory.
SLOT = int(os.environ.get("KORUND_TEST_SLOT", "0"))
APPLIANCE_ADDR = f"127.0.0.{11 + 10 * SLOT}"
CARRIER_ADDR = f"127.0.0.{12 + 10 * SLOT}"
RTP_BASE = 12000 + 2000 * SLOT


@pytest.fixture(scope="session")
def root():
    return rootfs_path()


@pytest.fixture(scope="module")
def pbx(root, request):
    """(appliance, carrier): started fresh for the module, stopped after it."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    appliance, carrier = start_pair(root, name, APPLIANCE_ADDR, CARRIER_ADDR, rtp=RTP_BASE)
    try:
        yield appliance, carrier
    finally:
        leftovers = stop_pair(appliance, carrier)
        assert not leftovers, f"processes left running: {leftovers}"


@pytest.fixture
def appliance(pbx):
    return pbx[0]


@pytest.fixture
def carrier(pbx):
    appliance, carrier = pbx
    for ext in ("1001", "1002"):
        carrier.phone(ext, "answer", tone=TONES[ext])
    yield carrier
    # Leak check: no channel may outlive its test on either side.
    for node in (appliance, carrier):
        if node.mgr is None:
            node.connect()
        wait_for(lambda: node.active_channels() == 0, 20,
                 what=f"channels to be gone on {node.base}")


# Each simulated phone answers with its own tone, so the caller's recording
# tells which operator the call reached.
TONES = {"1001": 700, "1002": 1300}
