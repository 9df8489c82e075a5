"""Apply a rendered configuration: write atomically, reload Asterisk, verify
that Asterisk took it, and restore the last good set if it did not."""
from __future__ import annotations

import grp
import hashlib
import ipaddress
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from . import ami, model, render
from .instance import ASTERISK_USER, Instance

GENERATION_VAR = "KORUND_CONFIG_GENERATION"


class ApplyError(RuntimeError):
    """Asterisk refused the new configuration; the previous one is back."""


@dataclass
class Applied:
    generation: str
    files: list[str]
    reloaded: bool


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


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    try:
        os.chown(tmp, 0, grp.getgrnam(ASTERISK_USER).gr_gid)
    except KeyError:
        pass
    tmp.chmod(0o640)
    os.replace(tmp, path)


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


def reload_and_verify(mgr, files: dict[str, str]) -> list[str]:
    ami.command(mgr, "core reload")
    ami.command(mgr, "dialplan reload")  # core reload queues it; make it synchronous
    return verify(mgr, files)


def apply(inst: Instance, db, mgr=None, files: dict[str, str] | None = None) -> Applied:
    """Render from *db* (or take *files*), write, reload through *mgr* if
    Asterisk runs, and roll back on failure."""
    if files is None:
        files = render.render_all(model.load(db), inst)
    files = stamp_generation(files)
    previous = read_set(inst.last_good)
    write_set(inst.etc, files)
    if mgr is None:
        write_set(inst.last_good, files)
        return Applied(generation_of(files), sorted(files), reloaded=False)
    log = inst.log / "messages.log"
    log_start = log.stat().st_size if log.exists() else 0
    problems = reload_and_verify(mgr, files)
    if problems:
        want = expected_objects(files)
        names = set().union(*want.values()) | set(identify_matches(files))
        problems += config_complaints(log, log_start, inst.etc, names=names)
        if previous:
            write_set(inst.etc, previous)
            reload_and_verify(mgr, previous)
        raise ApplyError("Asterisk rejected the new configuration, the previous one is "
                         "restored: " + "; ".join(problems))
    write_set(inst.last_good, files)
    return Applied(generation_of(files), sorted(files), reloaded=True)



def pending(inst: Instance, db) -> list[str]:
    """Files whose rendering differs from the last applied set."""
    files = stamp_generation(render.render_all(model.load(db), inst))
    good = read_set(inst.last_good)
    return sorted(n for n in set(files) | set(good) if files.get(n) != good.get(n))
