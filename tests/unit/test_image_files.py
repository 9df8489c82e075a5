"""The appliance image's files (image-build/): the plain root filesystem's
recipe key does not depend on the image's extras, every unit image.sh enables
exists with the scripts it runs, and the test units only act on their kernel
arguments."""
from __future__ import annotations

import configparser
import re
import subprocess
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
BUILD = TOP / "image-build"
GUEST = BUILD / "guest"


def _unit(name: str) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read(GUEST / name)
    return cp


def test_rootfs_key_ignores_the_image_files():
    key = subprocess.run([str(BUILD / "rootfs.sh"), "key"], capture_output=True, text=True,
                         check=True).stdout.strip()
    text = (BUILD / "rootfs.sh").read_text()
    body = text[text.index("recipe_key()"):text.index("key=$(recipe_key)")]
    assert "image" not in body, body
    assert re.fullmatch(r"[0-9a-f]{16}", key)


def test_image_packages_add_the_kernel_and_init():
    pkgs = {line.strip() for line in (BUILD / "image-packages.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")}
    assert {"linux-image-amd64", "linux-headers-amd64", "systemd-sysv", "udev", "kmod",
            "initramfs-tools", "i2c-tools"} <= pkgs


def test_enabled_units_exist_and_their_scripts_are_installed():
    text = (BUILD / "image.sh").read_text()
    start = text.index("systemctl enable -q")
    end = text.index("\n", text.index("2>/dev/null", start))
    units = [u for u in text[start:end].split() if u.startswith("korund") and u.endswith(".service")]
    assert {"korund.service", "korund-dahdi.service", "korund-firstboot.service",
            "korund-test.service", "korund-test-mounts.service"} <= set(units)
    for unit in units:
        cp = _unit(unit)
        exec_start = cp["Service"]["ExecStart"].split()[0]
        if exec_start.startswith("/usr/local/sbin/"):
            script = GUEST / Path(exec_start).name
            assert script.exists() and script.stat().st_mode & 0o111, script
            assert f'"$g/{script.name}"' in text, f"image.sh does not install {script.name}"


def test_test_units_run_only_with_their_kernel_argument():
    for unit in ("korund-test.service", "korund-test-mounts.service"):
        assert _unit(unit)["Unit"]["ConditionKernelCommandLine"] == "korund.test=1"
    assert _unit("korund-demo.service")["Unit"]["ConditionKernelCommandLine"] == "korund.demo=1"
    runner = _unit("korund-test.service")["Service"]["ExecStart"].split()[1]
    assert runner == "/opt/korund/src/tests/guest/run.py"
    assert (TOP / "tests" / "guest" / "run.py").exists()
    # The appliance's DAHDI files are the ones the boot reads.
    for unit in ("korund.service", "korund-dahdi.service", "korund-test.service"):
        assert "KORUND_DAHDI_ETC=/etc/dahdi" in _unit(unit)["Service"]["Environment"]
