#!/usr/bin/env python3
"""Boot the appliance disk image (image-build/image.sh) under qemu.

    python3 image-build/vm.py run          # make vm: the demo appliance, panel on https://127.0.0.1:8090
    python3 image-build/vm.py test         # make vm-test: the guest checks, results on the host
    python3 image-build/vm.py test --only pri,r2     # only checks whose name has one of these

Software emulation only (TCG): KVM initialises here and then kills the guest
(ENVIRONMENT.md). The kernel and initrd are booted directly, the root disk by
its label.

``run`` keeps the demo machine's changes in an overlay
($KORUND_CACHE/vm/demo-<key>.qcow2, --fresh starts over), forwards the panel's
HTTPS port to https://127.0.0.1:8090/ and prints that URL once the panel answers; the
console is this terminal (Ctrl-A X quits qemu). The kernel argument
korund.demo=1 makes the first boot load the demo configuration and, when
Korund has the command, configure the two looped E1 spans as a PRI pair
(``korund dahdi loop-demo pri``).

``test`` boots the image read-only (qemu snapshot) with korund.test=1, the
checkout's files as a second disk mounted over /opt/korund/src in the guest,
an output disk at /var/korund-out and the front-panel peer
(tests/vm/panel_peer.py) on the guest's ttyS1. The guest runner prints
``N passed, N failed`` and powers off; the host copies the output disk into
$KORUND_CACHE/vm-test/last/ with console.log beside it. Exit status 0 only
when the summary appeared with no failure, within the time limit.
Standard library only (runs with the host's python3).
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOP = HERE.parent
CACHE = Path(os.environ.get("KORUND_CACHE", "/var/cache/korund"))
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed\s*$")
RESULT_LINE = re.compile(r"^(PASS|FAIL) (\S+)")
JOURNAL_PREFIX = re.compile(r"^\[ *\d+\.\d+\] \S+\[\d+\]: ")   # "[  12.3] python[444]: "
HARD_LIMIT = 1500         # seconds: the whole vm-test run, boot to poweroff (20 R2 calls and the calls out take ~8 min)
PANEL_PORT = 8090
LOCK = Path("/run/lock/korund-vm-test.lock")


def say(msg: str) -> None:
    print(f"[vm] {msg}", file=sys.stderr, flush=True)


def image_dir(build: bool = True) -> Path:
    """The image's output folder; assembled first when it has no disk yet."""
    out = Path(subprocess.run([str(HERE / "image.sh"), "dir"], check=True, capture_output=True,
                              text=True).stdout.strip())
    if build and not (out / "disk.img").exists():
        say(f"no image in {out} yet: building it (image-build/image.sh build)")
        subprocess.run([str(HERE / "image.sh"), "build"], check=True)
    for name in ("disk.img", "disk.qcow2", "vmlinuz", "initrd.img"):
        if not (out / name).exists():
            raise SystemExit(f"[vm] {out / name} is missing: run make image")
    return out


def qemu_base(img: Path, append: str) -> list[str]:
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        raise SystemExit("[vm] qemu-system-x86_64 is not installed: make host-deps "
                         "(apt-get install qemu-system-x86 qemu-utils)")
    return [qemu, "-accel", "tcg,thread=multi", "-cpu", "max", "-smp", "2", "-m", "2048",
            "-nodefaults", "-display", "none", "-no-reboot",
            "-kernel", str(img / "vmlinuz"), "-initrd", str(img / "initrd.img"),
            "-append", f"console=ttyS0 root=LABEL=korund-root rw {append}".strip()]


# ---------------------------------------------------------------- make vm

def wait_panel_then_print(proc: subprocess.Popen, url: str) -> None:
    while proc.poll() is None:
        try:
            # the guest's own self-signed certificate: only whether it answers matters here
            with urllib.request.urlopen(url, timeout=5, context=ssl._create_unverified_context()) as resp:
                if resp.status < 500:
                    break
        except OSError:
            pass
        time.sleep(3)
    else:
        return
    msg = (f"\r\n[vm] The appliance's panel answers: {url}  (its certificate is self-signed; first "
           f"visit: create the administrator with the setup code printed on the console and its login "
           f"screen).\r\n[vm] Quit the VM: Ctrl-A X (or poweroff on its console).\r\n")
    sys.stderr.write(msg)
    sys.stderr.flush()


def cmd_run(args) -> int:
    img = image_dir()
    key = img.name
    state = CACHE / "vm"
    state.mkdir(parents=True, exist_ok=True)
    overlay = state / f"demo-{key}.qcow2"
    if args.fresh or not overlay.exists() or \
            overlay.stat().st_mtime < (img / "disk.qcow2").stat().st_mtime:
        for old in state.glob("demo-*.qcow2"):
            old.unlink()
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(img / "disk.qcow2"),
                        "-F", "qcow2", str(overlay)], check=True)
        say(f"a fresh demo machine: {overlay}")
    url = f"https://127.0.0.1:{args.port}/"
    cmd = qemu_base(img, "korund.demo=1") + [
        "-drive", f"file={overlay},format=qcow2,if=virtio,cache=unsafe",
        "-nic", f"user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:{args.port}-:8443",
        "-chardev", f"stdio,id=con0,mux=on,signal=off,logfile={state / 'console.log'}",
        "-serial", "chardev:con0", "-mon", "chardev=con0,mode=readline"]
    say(f"booting the appliance (software emulation: about a minute, several on the first boot); "
        f"the panel will be at {url}")
    proc = subprocess.Popen(cmd)
    threading.Thread(target=wait_panel_then_print, args=(proc, url), daemon=True).start()
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait()


# ---------------------------------------------------------------- make vm-test

def extract_ext4(image: Path, dest: Path) -> None:
    """Copy an ext4 image's files out without mounting it (debugfs rdump)."""
    dest.mkdir(parents=True, exist_ok=True)
    listing = subprocess.run(["debugfs", "-R", "ls -p /", str(image)], capture_output=True,
                             text=True).stdout
    for line in listing.splitlines():
        parts = line.split("/")       # "/inode/mode/uid/gid/name/size/" (no size for a folder)
        if len(parts) < 7 or parts[5] in ("", ".", "..", "lost+found"):
            continue
        subprocess.run(["debugfs", "-R", f"rdump /{parts[5]} {dest}", str(image)],
                       capture_output=True, text=True)


class Console:
    """Follows the console log qemu writes; echoes it and notes the results."""

    def __init__(self, path: Path, echo: bool):
        self.path, self.echo = path, echo
        self.pos, self.partial = 0, b""
        self.summary: tuple[int, int] | None = None
        self.runner_at: float | None = None
        self.failed: list[str] = []

    def poll(self) -> None:
        try:
            with self.path.open("rb") as f:
                f.seek(self.pos)
                data = f.read()
        except FileNotFoundError:
            return
        self.pos += len(data)
        data = self.partial + data
        *lines, self.partial = data.split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace").rstrip("\r")
            if self.echo:
                print(f"  | {line}", flush=True)
            line = JOURNAL_PREFIX.sub("", line)
            if "korund guest runner:" in line and self.runner_at is None:
                self.runner_at = time.monotonic()
            m = RESULT_LINE.match(line)
            if m and m.group(1) == "FAIL":
                self.failed.append(line)
            m = SUMMARY.match(line)
            if m:
                self.summary = (int(m.group(1)), int(m.group(2)))


def start_panel_peer(sock: Path, log: Path, peer_log: Path):
    peer = TOP / "tests" / "vm" / "panel_peer.py"
    if not peer.exists():
        return None
    venv_py = TOP / ".venv" / "bin" / "python"
    py = str(venv_py) if venv_py.exists() else sys.executable
    for _ in range(100):       # qemu creates the socket as it starts
        if sock.exists():
            break
        time.sleep(0.1)
    out = peer_log.open("w")
    return subprocess.Popen([py, str(peer), "--socket", str(sock), "--log", str(log)],
                            stdout=out, stderr=subprocess.STDOUT, cwd=TOP)


def take_turn(base: Path):
    """One vm-test at a time on this machine: two TCG guests on 2 cores only
    make both miss their time limits. Returns the held lock file."""
    base.mkdir(parents=True, exist_ok=True)
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    lock = LOCK.open("a+")    # one lock per machine, whatever cache a run uses
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        say("another vm-test is running on this machine: waiting for it to finish")
        fcntl.flock(lock, fcntl.LOCK_EX)
    return lock


def cmd_test(args) -> int:
    t_start = time.monotonic()
    img = image_dir()
    base = CACHE / "vm-test"
    last = Path(args.results) if args.results else base / "last"
    lock = take_turn(base)
    t_start = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="run-", dir=base))
    say("the checkout's disk (working tree: tracked and untracked-not-ignored files)")
    subprocess.run([str(HERE / "image.sh"), "srcdisk", str(work / "src.img")], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-L", "korund-out", "-E", "root_owner=0:0",
                    str(work / "out.img"), "512M"], check=True, stdout=subprocess.DEVNULL)
    sock = work / "panel.sock"
    console_log = work / "console.log"
    append = f"korund.test=1 korund.limit={args.limit}"
    if args.only:
        append += f" korund.only={args.only}"
    cmd = qemu_base(img, append) + [
        # The image itself is never written (snapshot); the checkout and output disks are.
        "-drive", f"file={img / 'disk.img'},format=raw,if=virtio,snapshot=on,cache=unsafe",
        "-drive", f"file={work / 'src.img'},format=raw,if=virtio,cache=unsafe",
        "-drive", f"file={work / 'out.img'},format=raw,if=virtio,cache=writeback",
        "-nic", "user,model=virtio-net-pci,restrict=on",
        "-chardev", f"file,id=con0,path={console_log}", "-serial", "chardev:con0",
        "-serial", f"unix:{sock},server=on,wait=off"]
    (work / "qemu.cmd").write_text(" ".join(cmd) + "\n")
    say(f"booting {img / 'disk.img'} with {append} (limit {args.limit} s); console: {console_log}")
    t_boot = time.monotonic()
    qemu_err = (work / "qemu.err").open("w")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=qemu_err, stderr=subprocess.STDOUT)
    peer = start_panel_peer(sock, work / "panel.jsonl", work / "panel_peer.log")
    console = Console(console_log, echo=args.verbose)
    deadline = t_boot + args.limit
    timed_out = False
    summary_at = None
    while proc.poll() is None:
        console.poll()
        now = time.monotonic()
        if console.summary and summary_at is None:
            summary_at = now
        if now > deadline or (summary_at and now - summary_at > 120):
            timed_out = now > deadline
            say("time limit reached: stopping qemu" if timed_out
                else "the guest did not power off after its summary: stopping qemu")
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
            break
        time.sleep(0.5)
    proc.wait()
    console.poll()
    t_end = time.monotonic()
    if peer:
        try:
            peer.wait(15)
        except subprocess.TimeoutExpired:
            peer.terminate()
            peer.wait()
    # The results: the output disk's files, the console, the peer's log.
    shutil.rmtree(last, ignore_errors=True)
    extract_ext4(work / "out.img", last)
    for name in ("console.log", "panel.jsonl", "panel_peer.log", "qemu.cmd", "qemu.err"):
        if (work / name).exists():
            shutil.copy2(work / name, last / name)
    times = {"prepare": round(t_boot - t_start, 1),
             "boot_to_runner": round(console.runner_at - t_boot, 1) if console.runner_at else None,
             "run": round(t_end - t_boot, 1), "total": round(t_end - t_start, 1),
             "summary": console.summary, "timed_out": timed_out, "qemu_exit": proc.returncode}
    (last / "host.json").write_text(json.dumps(times, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    lock.close()
    say(f"times: {times}")
    for line in console.failed:
        say(line)
    if console.summary is None:
        say(f"no summary line on the console ({'timed out' if timed_out else 'the guest stopped'}); "
            f"console log: {last / 'console.log'}")
        return 1
    passed, failed = console.summary
    say(f"{passed} passed, {failed} failed -- console log: {last / 'console.log'}, "
        f"results: {last / 'result.json'}")
    return 0 if failed == 0 and passed > 0 else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="make vm: boot the demo appliance, panel on 127.0.0.1:8090")
    r.add_argument("--fresh", action="store_true", help="forget the demo machine's changes")
    r.add_argument("--port", type=int, default=PANEL_PORT)
    r.set_defaults(fn=cmd_run)
    t = sub.add_parser("test", help="make vm-test: run tests/guest in the VM")
    t.add_argument("--only", default=os.environ.get("ONLY", ""),
                   help="comma-separated words: run only checks whose name contains one")
    t.add_argument("--limit", type=int, default=int(os.environ.get("KORUND_VM_LIMIT", HARD_LIMIT)),
                   help="seconds from boot to poweroff before the run fails")
    t.add_argument("-v", "--verbose", action="store_true", help="echo the guest's console")
    t.add_argument("--results", default=os.environ.get("KORUND_VM_RESULTS"),
                   help="folder for the results (default $KORUND_CACHE/vm-test/last)")
    t.set_defaults(fn=cmd_test)
    args = ap.parse_args()
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
