"""Apply a rendered configuration: write atomically, reload Asterisk, verify
that Asterisk took it, and restore the last good set if it did not.

Only the Asterisk modules that read a changed file are reloaded
(``RELOADS``), never ``core reload``: that reloads every module, chan_dahdi
too, and Asterisk 22 crashes on the next MFC/R2 call after chan_dahdi is
reloaded under live R2 links. chan_dahdi.conf is put into service by
appliance/lines/apply.py; this module never reloads chan_dahdi."""
from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from appliance import render
from appliance.base import ami
from appliance.base.instance import Instance, write_atomically
from appliance.render import config as render_config

GENERATION_VAR = "KORUND_CONFIG_GENERATION"

# Which Asterisk module reads which of our files, in the order they are
# reloaded: the logger first (what the others say lands in the new logs),
# the named ACLs before their users, RTP/UDPTL before the SIP stack, music
# on hold and the SIP endpoints before app_queue (queue members find their
# endpoints, queues their music class), the dialplan last (it refers to
# all of them; its reload also sets GENERATION_VAR). The names are those
# of `module show` in the appliance's Asterisk 22 (cdr_custom.so and
# cel_custom.so read their files through res_cdrel_custom.so, which itself
# has no reload).
RELOADS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("logger", ("logger.conf",)),
    ("acl", ("acl.conf",)),
    ("manager", ("manager.conf",)),
    ("indications", ("indications.conf",)),
    ("res_rtp_asterisk.so", ("rtp.conf",)),
    ("udptl", ("udptl.conf",)),
    ("cdr", ("cdr.conf",)),
    ("cdr_custom.so", ("cdr_custom.conf",)),
    ("cel", ("cel.conf",)),
    ("cel_custom.so", ("cel_custom.conf",)),
    ("features", ("features.conf",)),
    ("res_musiconhold.so", ("musiconhold.conf",)),
    ("res_pjsip.so", ("pjsip.conf",)),
    ("app_queue.so", ("queues.conf", "queuerules.conf")),
    ("app_amd.so", ("amd.conf",)),
    ("pbx_config.so", ("extensions.conf",)),
)
DIALPLAN_MODULE = "pbx_config.so"
# Files we render that no module reload takes: Asterisk reads them when it
# starts, or (chan_dahdi.conf) the DAHDI apply puts them into service.
NOT_RELOADED = {
    "asterisk.conf": "read when Asterisk starts",
    "modules.conf": "read when Asterisk starts; the DAHDI apply loads chan_dahdi",
    "stasis.conf": "read when Asterisk starts",
    "ccss.conf": "read when Asterisk starts (Asterisk 22's ccss has no reload)",
    "chan_dahdi.conf": "put into service by appliance/dahdi_apply.py",
}
# Never reloaded from here, whatever changed (see the module's docstring).
NEVER_RELOADED = frozenset({"chan_dahdi.so", "chan_dahdi"})
# How long a module reload may wait for another one Asterisk is running.
RELOAD_BUSY_SECONDS = 15.0


class ApplyError(RuntimeError):
    """Asterisk refused the new configuration; the previous one is back."""


@dataclass
class Applied:
    generation: str
    files: list[str]
    reloaded: bool
    modules: list[str] = field(default_factory=list)   # the Asterisk modules reloaded


def generation_of(files: dict[str, str]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return h.hexdigest()[:16]


def stamp_generation(files: dict[str, str]) -> dict[str, str]:
    """Put the set's generation into the dialplan's globals, so a reload that
    silently kept the old dialplan is noticed."""
    gen = generation_of(files)
    files = dict(files)
    files["extensions.conf"] = files["extensions.conf"].replace(
        "[globals]\n", f"[globals]\n{GENERATION_VAR} = {gen}\n", 1)
    return files


def write_set(directory: Path, files: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        write_atomically(directory / name, text)
    for stale in directory.glob("*.conf"):
        if stale.name not in files:
            stale.unlink()
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_set(directory: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in directory.glob("*.conf")}


def expected_objects(files: dict[str, str]) -> dict[str, set[str]]:
    sections = lambda text: set(re.findall(r"^\[([^\]\n]+)\]", text, re.M))  # noqa: E731
    pjsip = files.get("pjsip.conf", "")
    endpoints = set(re.findall(r"^\[([^\]\n]+)\]\ntype = endpoint", pjsip, re.M))
    return {
        "contexts": sections(files.get("extensions.conf", "")) - {"general", "globals"},
        "endpoints": endpoints,
        "queues": sections(files.get("queues.conf", "")) - {"general"},
    }


def identify_matches(files: dict[str, str]) -> dict[str, str]:
    """{identify section: its match} from pjsip.conf."""
    return dict(re.findall(r"^\[([^\]\n]+)\]\ntype = identify\nendpoint = [^\n]+\nmatch = ([^\n]+)",
                           files.get("pjsip.conf", ""), re.M))


def resolve(host: str) -> list[str]:
    """The addresses Asterisk will match for *host* (IP literals as they are)."""
    try:
        ipaddress.ip_address(host)
        return [host]
    except ValueError:
        pass
    return sorted({info[4][0] for info in socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)})


def verify(mgr, files: dict[str, str]) -> list[str]:
    """What Asterisk is missing of *files* after a reload (empty: all there)."""
    problems = []
    want = expected_objects(files)
    gen = re.search(rf"^{GENERATION_VAR} = (\w+)", files["extensions.conf"], re.M)
    got = ami.getvar(mgr, GENERATION_VAR)
    if gen and got != gen.group(1):
        problems.append("extensions.conf was not loaded (dialplan kept its previous version)")
    for ctx in sorted(want["contexts"]):
        out = ami.command(mgr, f"dialplan show {ctx}")
        if any("There is no existence" in line for line in out):
            problems.append(f"dialplan context [{ctx}] is missing")
    endpoints = "\n".join(ami.command(mgr, "pjsip show endpoints"))
    for ep in sorted(want["endpoints"]):
        if not re.search(rf"Endpoint:\s+{re.escape(ep)}[\s/]", endpoints):
            problems.append(f"PJSIP endpoint {ep} is missing")
    for ident, match in identify_matches(files).items():
        shown = "\n".join(ami.command(mgr, f"pjsip show identify {ident}"))
        try:
            addresses = resolve(match)
        except OSError:
            problems.append(f"the carrier address '{match}' of {ident} does not resolve")
            continue
        if not all(f"{a}/32" in shown or f"{a}/128" in shown for a in addresses):
            problems.append(f"PJSIP identify {ident} does not match {match}")
    queues = "\n".join(ami.command(mgr, "queue show"))
    for q in sorted(want["queues"]):
        if not re.search(rf"^{re.escape(q)} has", queues, re.M):
            problems.append(f"queue {q} is missing")
    return problems


def config_complaints(log: Path, start: int, etc: Path, limit: int = 3,
                      names: set[str] = frozenset()) -> list[str]:
    """Asterisk's own words about our files or objects, logged since *start*."""
    try:
        with open(log, encoding="utf-8", errors="replace") as f:
            f.seek(start)
            lines = f.read().splitlines()
    except OSError:
        return []
    def ours(line: str) -> bool:
        return str(etc) in line or any(f"'{n}'" in line for n in names)
    said = [re.sub(r"^\[[^\]]*\]\s*", "", line) for line in lines
            if ours(line) and ("WARNING" in line or "ERROR" in line)]
    return list(dict.fromkeys(said))[:limit]


def _unstamped(name: str, text: str | None) -> str | None:
    """*text* without the generation line (which changes with any file)."""
    if name != "extensions.conf" or text is None:
        return text
    return re.sub(rf"^{GENERATION_VAR} = \w*\n", "", text, count=1, flags=re.M)


def changed_files(files: dict[str, str], *running: dict[str, str]) -> set[str] | None:
    """The names whose content in *files* differs from any of the *running*
    sets (what Asterisk was last given, what is on disk), the generation
    stamp aside; None when a running set is unknown (empty)."""
    if not running or not all(running):
        return None
    return {name for old in running for name in set(files) | set(old)
            if _unstamped(name, files.get(name)) != _unstamped(name, old.get(name))}


def modules_to_reload(changed: set[str] | None) -> list[str]:
    """The modules to reload for the *changed* files, in RELOADS order;
    every module of RELOADS when *changed* is None (unknown) or names a
    file of no known module. Never chan_dahdi."""
    owners = {name: module for module, names in RELOADS for name in names}
    everything = changed is None or any(n not in owners and n not in NOT_RELOADED for n in changed)
    wanted = {owners[n] for n in changed if n in owners} if not everything else None
    return [module for module, _ in RELOADS
            if module not in NEVER_RELOADED and (wanted is None or module in wanted)]


def reload_module(mgr, module: str, clock=time.monotonic, sleep=time.sleep) -> str | None:
    """Reload one module; None when Asterisk says it did, else its words."""
    if module in NEVER_RELOADED:
        raise ValueError(f"{module} is never reloaded by Asterisk's apply")
    deadline = clock() + RELOAD_BUSY_SECONDS
    while True:
        said = " ".join(ln.strip() for ln in ami.command(mgr, f"module reload {module}") if ln.strip())
        if "reloaded successfully" in said:
            return None
        if "already in progress" in said and clock() < deadline:
            sleep(0.5)   # another reload runs (e.g. someone's CLI): wait for it
            continue
        return f"Asterisk could not reload {module}: {said or 'no answer'}"


def reload_and_verify(mgr, files: dict[str, str], changed: set[str] | None = None) -> list[str]:
    """Reload the modules of the *changed* files (all of them when None),
    then check that Asterisk has *files*. When the dialplan is not reloaded
    (it is the same but for its generation stamp), the running dialplan's
    generation variable is set to this set's."""
    modules = modules_to_reload(changed)
    problems = [said for module in modules if (said := reload_module(mgr, module))]
    if DIALPLAN_MODULE not in modules:
        gen = re.search(rf"^{GENERATION_VAR} = (\w+)", files["extensions.conf"], re.M)
        if gen:
            resp = mgr.send_action({"Action": "Setvar", "Variable": GENERATION_VAR, "Value": gen.group(1)})
            if resp.get_header("Response") != "Success":
                problems.append(f"Asterisk did not take the generation {gen.group(1)}: "
                                f"{resp.get_header('Message') or 'no reason given'}")
    return problems + verify(mgr, files)


def apply(inst: Instance, db, mgr=None, files: dict[str, str] | None = None) -> Applied:
    """Render from *db* (or take *files*), write, reload through *mgr* if
    Asterisk runs, and roll back on failure."""
    if files is None:
        files = render.render_all(render_config.load(db), inst)
    files = stamp_generation(files)
    previous = read_set(inst.last_good)
    changed = changed_files(files, previous, read_set(inst.etc))
    write_set(inst.etc, files)
    if mgr is None:
        write_set(inst.last_good, files)
        return Applied(generation_of(files), sorted(files), reloaded=False)
    log = inst.log / "messages.log"
    log_start = log.stat().st_size if log.exists() else 0
    modules = modules_to_reload(changed)
    problems = reload_and_verify(mgr, files, changed)
    if problems:
        want = expected_objects(files)
        names = set().union(*want.values()) | set(identify_matches(files))
        problems += config_complaints(log, log_start, inst.etc, names=names)
        if previous:
            write_set(inst.etc, previous)
            # the same modules again: what they read is back as it was
            reload_and_verify(mgr, previous, changed_files(previous, files))
        raise ApplyError("Asterisk rejected the new configuration, the previous one is "
                         "restored: " + "; ".join(problems))
    write_set(inst.last_good, files)
    return Applied(generation_of(files), sorted(files), reloaded=True, modules=modules)



def pending(inst: Instance, db) -> list[str]:
    """Files whose rendering differs from the last applied set."""
    files = stamp_generation(render.render_all(render_config.load(db), inst))
    good = read_set(inst.last_good)
    return sorted(n for n in set(files) | set(good) if files.get(n) != good.get(n))
