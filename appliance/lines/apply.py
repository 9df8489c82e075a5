"""Put the DAHDI configuration into service (H1, H2): write system.conf,
modules and chan_dahdi.conf (each previous file kept as <name>.prev), run
``dahdi_cfg``, make Asterisk's chan_dahdi take the new channels, check that
every channel is there -- and on any failure put the previous files back,
re-run the tools with them and report what the tool said.

Everything outside is passed in: the directory of DAHDI's files (the
instance's etc/dahdi in tests; /etc/dahdi on the appliance through
KORUND_DAHDI_ETC), the command runner, the AMI session and the hardware
root. ``dahdi_cfg -t`` still opens /dev/dahdi/ctl, so there is no
kernel-free check mode: the real check happens on the appliance (or in the
VM with DAHDI modules).

``dahdi_cfg`` needs root, and /etc/dahdi is root's. The services run as the
``korund`` user: they write system.conf and modules into the instance's
``etc/dahdi`` (staged) and the root helper (appliance/base/root_helper.py,
verb ``dahdi-install``) checks them, puts them into /etc/dahdi and runs
``dahdi_cfg`` (``install_staged``). Root (the ``korund`` command) does both
itself.
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from appliance.base import ami, root_helper, store
from appliance.base.instance import Instance, write_atomically
from appliance.lines import render as dahdi, store as spans


def dahdi_cfg() -> str:
    """The dahdi_cfg to run ($KORUND_DAHDI_CFG, e.g. a stand-in in tests)."""
    return os.environ.get("KORUND_DAHDI_CFG", "dahdi_cfg")


class DahdiApplyError(RuntimeError):
    """A tool refused the new DAHDI configuration; the previous one is back."""


@dataclass
class Applied:
    files: list[str]
    configured: bool   # dahdi_cfg ran
    reloaded: bool     # Asterisk took it


def dahdi_etc(inst: Instance) -> Path:
    """The directory DAHDI's files are read from (dahdi_cfg, the boot)."""
    return Path(os.environ.get("KORUND_DAHDI_ETC") or staging(inst))


def staging(inst: Instance) -> Path:
    """Where the services write DAHDI's files for the root helper to
    install: the instance's own etc/dahdi."""
    return inst.base / "etc" / "dahdi"


def installed(inst: Instance) -> dict[str, Path]:
    """The files as DAHDI and chan_dahdi read them."""
    etc = dahdi_etc(inst)
    return {"system.conf": etc / "system.conf", "modules": etc / "modules",
            "chan_dahdi.conf": inst.etc / "chan_dahdi.conf"}


def targets(inst: Instance) -> dict[str, Path]:
    """Where Korund writes them: in place when root or when DAHDI's
    directory is the instance's own; staged for the root helper otherwise."""
    if os.geteuid() == 0 or dahdi_etc(inst) == staging(inst):
        return installed(inst)
    etc = staging(inst)
    return {"system.conf": etc / "system.conf", "modules": etc / "modules",
            "chan_dahdi.conf": inst.etc / "chan_dahdi.conf"}


def run_tool(argv: list[str]) -> tuple[int, str]:
    """Run DAHDI's tool; (exit status, what it printed). A missing tool is
    status 127. Not root (the services): the root helper installs the
    staged files and runs dahdi_cfg on them instead (verb dahdi-install)."""
    if os.geteuid() != 0:
        try:
            reply = root_helper.call("dahdi-install")
        except root_helper.RootHelperError as exc:
            return 126, f"{argv[0]}: {exc}"
        return int(reply["status"]), str(reply["output"])
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    except FileNotFoundError:
        return 127, f"{argv[0]}: not installed"
    except subprocess.TimeoutExpired:
        return 124, f"{argv[0]}: no answer within 120 s"
    return done.returncode, (done.stdout + done.stderr).strip()


# --- the root helper's side: staged files into place, then dahdi_cfg -------------------

STAGED = ("system.conf", "modules")
MAX_STAGED_BYTES = 256 * 1024
MODULE_NAME = re.compile(r"[a-z0-9_]{1,64}")


class StagedFileError(ValueError):
    pass


def _read_staged(inst: Instance, name: str) -> str | None:
    """The staged *name*'s text, None when there is none. The korund user
    owns the staging directories, so nothing on the way is followed if it
    is a link, and only a small regular text file is taken; a modules file
    names kernel modules and nothing else (the boot loads each as root)."""
    fds = []
    try:
        fd = os.open(inst.base, os.O_RDONLY | os.O_DIRECTORY)
        fds.append(fd)
        for part in staging(inst).relative_to(inst.base).parts:
            fd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            fds.append(fd)
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
        except FileNotFoundError:
            return None
        fds.append(fd)
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_STAGED_BYTES:
            raise StagedFileError(f"staged {name} is not a regular file of at most {MAX_STAGED_BYTES} bytes")
        data = os.read(fd, MAX_STAGED_BYTES + 1)
    except OSError as exc:
        raise StagedFileError(f"staged {name} cannot be read safely: {exc.strerror}") from None
    finally:
        for fd in reversed(fds):
            os.close(fd)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise StagedFileError(f"staged {name} is not UTF-8 text") from None
    if "\0" in text:
        raise StagedFileError(f"staged {name} is not text")
    if name == "modules":
        for line in text.splitlines():
            word = line.split("#", 1)[0].strip()
            if word and not MODULE_NAME.fullmatch(word):
                raise StagedFileError(f"staged modules names {word[:40]!r}, not a kernel module")
    return text


def install_staged(inst: Instance) -> tuple[int, str]:
    """The root helper's dahdi-install: the staged system.conf and modules
    into DAHDI's directory (each replaced one kept as .prev; a file no longer
    staged removed), then dahdi_cfg on them. (exit status, what was said)."""
    etc = dahdi_etc(inst)
    if etc != staging(inst):
        try:
            texts = {name: _read_staged(inst, name) for name in STAGED}
        except StagedFileError as exc:
            return 65, str(exc)
        etc.mkdir(parents=True, exist_ok=True)
        for name, text in texts.items():
            target = etc / name
            current = target.read_text(encoding="utf-8") if target.is_file() else None
            if text == current:
                continue
            if current is not None:
                write_atomically(_prev(target), current)
            if text is None:
                target.unlink(missing_ok=True)
            else:
                write_atomically(target, text)
    return run_tool([dahdi_cfg(), "-vv", "-c", str(etc / "system.conf")])


def _prev(path: Path) -> Path:
    return path.with_name(path.name + ".prev")


def write(paths: dict[str, Path], files: dict[str, str],
          current: dict[str, Path] | None = None) -> dict[str, str | None]:
    """Write *files*, keeping each current one (from *current*, the files in
    service, when they are elsewhere) as .prev; return the old texts."""
    old = {}
    for name, path in paths.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        was = (current or paths)[name]
        old[name] = was.read_text(encoding="utf-8") if was.exists() else None
        if old[name] is not None:
            write_atomically(_prev(path), old[name])
        write_atomically(path, files[name])
    return old


def restore(paths: dict[str, Path], old: dict[str, str | None]) -> None:
    for name, path in paths.items():
        if old[name] is None:
            path.unlink(missing_ok=True)
        else:
            write_atomically(path, old[name])


def _quote(output: str, limit: int = 5) -> str:
    lines = [ln for ln in output.splitlines() if ln.strip() and "Tools Version" not in ln]
    return " / ".join(lines[-limit:]) or "no output"


def expected_channels(text: str) -> set[int]:
    """Every channel number chan_dahdi.conf's `channel =>` lines name."""
    out = set()
    for line in re.findall(r"^channel => (\S+)$", text, re.MULTILINE):
        out.update(spans.expand_channels(line))
    return out


def asterisk_reload(mgr, chan_dahdi_text: str) -> list[str]:
    """Make chan_dahdi read its file and check every channel is there."""
    loaded = "\n".join(ami.command(mgr, "module show like chan_dahdi"))
    if re.search(r"chan_dahdi\.so.*\bRunning\b", loaded):
        out = ami.command(mgr, "module reload chan_dahdi.so")
        if any(("not found" in ln or "ailed" in ln) for ln in out):
            return [f"Asterisk: {_quote(chr(10).join(out))}"]
    else:
        # AMI refuses the CLI's "module load"; its own action may load.
        resp = mgr.send_action({"Action": "ModuleLoad", "Module": "chan_dahdi.so", "LoadType": "load"})
        if resp.headers.get("Response") != "Success":
            return [f"Asterisk could not load chan_dahdi.so: {resp.headers.get('Message', 'no reason given')}"]
    shown = ami.command(mgr, "dahdi show channels")
    present = {int(m.group(1)) for ln in shown if (m := re.match(r"^\s*(\d+)\s", ln))}
    missing = sorted(expected_channels(chan_dahdi_text) - present)
    if missing:
        return [(f"chan_dahdi has no channel {dahdi.ranges(missing)} after the reload "
                f"(see Asterisk's log: {_quote(chr(10).join(shown), 2)})")]
    return []


def apply(inst: Instance, db, mgr=None, run=run_tool, hw: dahdi.Hardware | None = None,
          configure: bool = True) -> Applied:
    """Render from *db*, write, run dahdi_cfg (unless *configure* is False:
    no DAHDI kernel here), reload chan_dahdi through *mgr* if Asterisk runs;
    roll back on failure. ConfigError for settings that cannot be rendered."""
    hw = hw if hw is not None else dahdi.hardware()
    files = dahdi.render(spans.load_all(db), hw)
    paths = targets(inst)
    old = write(paths, files, installed(inst))
    problems = []
    if configure:
        rc, said = run([dahdi_cfg(), "-vv", "-c", str(paths["system.conf"])])
        if rc:
            problems.append(f"dahdi_cfg refused system.conf (exit {rc}): {_quote(said)}")
    if not problems and mgr is not None:
        problems += asterisk_reload(mgr, files["chan_dahdi.conf"])
    if problems:
        restore(paths, old)
        if configure and old["system.conf"] is not None:
            rc, said = run([dahdi_cfg(), "-vv", "-c", str(paths["system.conf"])])
            if rc:
                problems.append(f"and the previous system.conf failed too: {_quote(said)}")
        if mgr is not None and old["chan_dahdi.conf"] is not None:
            ami.command(mgr, "module reload chan_dahdi.so")
        raise DahdiApplyError("the new DAHDI configuration was not taken, the previous one is "
                              "restored: " + "; ".join(problems))
    # in service now, or read by chan_dahdi when Asterisk starts
    store.set_setting(db, APPLIED_KEY, fingerprint(files))
    return Applied(sorted(files), configured=configure, reloaded=mgr is not None)


# What DAHDI and chan_dahdi were last given by a DAHDI apply (a hash of the
# rendered files): the main Apply only writes chan_dahdi.conf
# (appliance.apply never reloads chan_dahdi), so the Lines page says when the
# span settings are not in service yet.
APPLIED_KEY = "dahdi.applied"


def fingerprint(files: dict[str, str]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name].encode("utf-8") + b"\0")
    return h.hexdigest()[:16]


def not_in_service(db, hw: dahdi.Hardware | None = None) -> bool:
    """True when the span settings differ from what the last DAHDI apply put
    into service (False with no spans and nothing applied yet)."""
    span_list = spans.load_all(db)
    applied = store.get_setting(db, APPLIED_KEY, "")
    if not span_list and not applied:
        return False
    try:
        files = dahdi.render(span_list, hw if hw is not None else dahdi.hardware())
    except Exception:   # noqa: BLE001 - settings that cannot be rendered are not in service either
        return True
    return fingerprint(files) != applied
