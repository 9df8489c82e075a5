"""A short capacity run as a functional check: 30 calls from SIPp (the
carrier, with G.711 audio and RFC 4733 keys) into the demo appliance, half
through the IVR on 200, half straight to the queue on 100, with every call
recorded and the simulated operators answering some. It asserts only that
every call went right -- none failed, every IVR caller's keys heard, one
complete history row per call, no channel left -- never how fast:
bench/capacity.py measures that, with the same functions.

SIPp signals from this slot's 127.0.0.N8 and sends its media from N9, beside
the appliance (N1) and the carrier (N2) of tests/conftest.py."""
from __future__ import annotations

import shutil

import pytest

from bench import capacity
from tests.conftest import SLOT

SIPP_ADDR = f"127.0.0.{18 + 10 * SLOT}"
MEDIA_ADDR = f"127.0.0.{19 + 10 * SLOT}"
# Outside every slot's RTP range (12000 + 2000 * slot, two thousand ports each).
MEDIA_PORT = 32100 + 10 * SLOT


@pytest.fixture
def bench(appliance, carrier):
    if shutil.which("sipp") is None:
        pytest.skip("SIPp is missing: make host-deps installs sip-tester")
    capacity.prepare(appliance, carrier, SIPP_ADDR)
    return appliance, carrier


def test_thirty_calls_at_once_all_go_right(bench, tmp_path):
    appliance, carrier = bench
    # Without nft the RTP sent to SIPp reaches its raw sockets: slower, not wrong.
    drop = capacity.RtpDrop(MEDIA_ADDR) if shutil.which("nft") else capacity.NoDrop()
    with drop:
        r = capacity.run_load(appliance, carrier, calls=30, hold=15, ramp=5, sipp_addr=SIPP_ADDR,
                              media_addr=MEDIA_ADDR, media_port=MEDIA_PORT, workdir=tmp_path, tag=0, drop=drop)
    print({k: r[k] for k in ("invite_200", "bye_200", "cpu_ms_per_call", "machine_cpu_pct")})
    assert r["placed"] == 30, r.get("sipp_errors_tail")
    assert r["failed"] == 0 and r["not_answered"] == 0 and r["dropped"] == 0, r.get("sipp_errors_tail")
    assert r["ivr_callers"] == 15 and r["keys_heard"] == 15, r["problems"]
    assert r["history"] == {"complete": 30, "missing": 0, "duplicated": 0, "not_ended": 0, "wrong_dnis": 0}
    assert r["channels_left"] == {"appliance": 0, "simulator": 0}
    assert not r["problems"]
