"""A support bundle for the technician: one tar.gz with the hardware state,
the generated configuration, counters, a kernel log excerpt and service logs,
with every secret removed and callers' numbers masked.

Secrets are redacted line by line before anything is written into the archive:
config keys (secret, password, md5secret, auth/API tokens, private keys...),
panel API tokens (krd_...), "Authorization: Bearer ..." headers, passwords in
URLs (user:pass@host) and JSON string fields with such names. Databases are
never included.

Technicians see no caller's number: in the configuration and the logs (the
call records, queue_log, messages.log, the services' logs) every number
longer than the operators' extensions (and than six digits) keeps its
shape but not its middle digits -- ``+74951234567`` becomes
``+7495*****67``. A unique id or time such as ``1795675773.997586``, an
Asterisk channel's sequence number (``PJSIP/pstn-00000001``) and the time
that starts a queue_log line are not numbers of people and stay. The
hardware readings (counters, serial numbers, firmware versions) hold no
call data and stay exact.

Example:
    make_bundle("/tmp/support.tar.gz", Root(), config_dirs=["/etc/dahdi", inst.etc],
                log_dirs=[inst.log])
"""
from __future__ import annotations

import io
import json
import os
import re
import tarfile
import time
from pathlib import Path

from . import inventory, maint, spans as spans_mod
from .root import Root

REDACTED = "[REDACTED]"
_KEYS = (r"secret|md5secret|password|passwd|pass|pwd|auth_?token|token|api_?key|apikey|"
         r"private_?key|priv_?key|client_?secret|session_?key|cookie_?secret|secret_?key|"
         r"outbound_?auth_?password|remotesecret|inkeys|outkey|dbpass|auth_pass")
_CONF_LINE = re.compile(rf"^(\s*[;#]?\s*(?:[\w.-]*?(?:{_KEYS}))\s*(?:=>?|:)\s*)(\S.*?)\s*$", re.I)
_JSON_FIELD = re.compile(rf'("(?:[\w.-]*?(?:{_KEYS}))"\s*:\s*)"(?:[^"\\]|\\.)*"', re.I)
_TOKEN = re.compile(r"\bkrd_[A-Za-z0-9_\-]{6,}")
_BEARER = re.compile(r"(\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=\-]{6,}", re.I)
_URL_PASS = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+(@)", re.I)
_ENV_ASSIGN = re.compile(rf"(\b[A-Z0-9_]*(?:SECRET|PASSWORD|TOKEN|API_KEY)[A-Z0-9_]*=)(\S+)")
_INLINE = re.compile(rf"(\b(?:{_KEYS})\s*(?:=>?|:)\s*)(?!\[REDACTED\])([^\s,;&\"'\]>][^\s,;&\"'\]]*)", re.I)

SKIP_SUFFIXES = (".db", ".sqlite", ".sqlite3", ".db-wal", ".db-shm", ".key", ".pem", ".p12")
KERNEL_WORDS = re.compile(r"dahdi|wct|wcte|wctdm|wcaxx|wcb4xx|opvx|te[0-9]xxp|vpm|oct6|span|"
                          r"r2|openr2|echocan|firmware", re.I)
LOG_TAIL_LINES = 2000
# Digit runs up to this long are kept: extensions, ports, process ids.
KEEP_DIGITS = 6
MASKED_DIRS = ("config/", "logs/")


def redact(text: str) -> str:
    """The text with secrets replaced by [REDACTED]; everything else kept."""
    out = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        end = line[len(body):]
        m = _CONF_LINE.fullmatch(body)
        if m and not body.lstrip().startswith(("[", "{")):
            body = m.group(1) + REDACTED
        body = _JSON_FIELD.sub(lambda mm: mm.group(1) + f'"{REDACTED}"', body)
        body = _TOKEN.sub("krd_" + REDACTED, body)
        body = _BEARER.sub(lambda mm: mm.group(1) + REDACTED, body)
        body = _URL_PASS.sub(lambda mm: mm.group(1) + REDACTED + mm.group(2), body)
        body = _ENV_ASSIGN.sub(lambda mm: mm.group(1) + REDACTED, body)
        body = _INLINE.sub(lambda mm: mm.group(1) + REDACTED, body)
        out.append(body + end)
    return "".join(out)


def mask_numbers(text: str, keep_digits: int = KEEP_DIGITS) -> str:
    """*text* with every number longer than *keep_digits* digits masked in
    the middle, its length kept (``+7495*****67``)."""
    number = re.compile(rf"(?<![\w.])\+?(\d{{{keep_digits + 1},}})(?!\w|\.\d)")
    out = []
    for line in text.splitlines(keepends=True):
        def hide(m, line=line):
            digits = m.group(1)
            before = line[m.start() - 1] if m.start() else ""
            after = line[m.end():m.end() + 1]
            if (before == "-" and len(digits) == 8) or (m.start() == 0 and after == "|"):
                return m.group(0)      # a channel's sequence number; queue_log's time
            first = max(0, min(4, len(digits) - 7))
            return m.group(0)[:m.start(1) - m.start()] + digits[:first] + "*" * (len(digits) - first - 2) \
                + digits[-2:]
        out.append(number.sub(hide, line))
    return "".join(out)


def _add(tar: tarfile.TarFile, name: str, text: str) -> None:
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


def _tail(path: Path, lines: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 400 * lines))
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    return "".join(text.splitlines(keepends=True)[-lines:])


def _text_files(directory: Path, limit: int = 200):
    count = 0
    for path in sorted(directory.rglob("*")):
        if count >= limit:
            return
        if not path.is_file() or path.is_symlink() or path.name.endswith(SKIP_SUFFIXES):
            continue
        try:
            head = path.read_bytes()[:4096]
        except OSError:
            continue
        if b"\0" in head:          # binary (sounds, databases): not for a report
            continue
        count += 1
        yield path


def make_bundle(out: str | os.PathLike, root: Root | str | None = None, *,
                config_dirs=(), log_dirs=(), runner=maint.run_command, keep_digits: int = KEEP_DIGITS) -> dict:
    """Write the bundle to OUT; returns the manifest (what is in it, what was
    missing). Numbers longer than *keep_digits* (at least KEEP_DIGITS) are
    masked in the configuration and the logs."""
    keep_digits = max(KEEP_DIGITS, keep_digits)
    root = Root.of(root)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    manifest = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "hardware_root": str(root.base), "files": [], "missing": []}
    tmp = out.with_name(out.name + ".part")
    with tarfile.open(tmp, "w:gz") as tar:
        def add(name, text):
            text = redact(text)
            if name.startswith(MASKED_DIRS):
                text = mask_numbers(text, keep_digits)
            _add(tar, f"korund-support/{name}", text)
            manifest["files"].append(name)

        boards = inventory.boards(root)
        add("hardware/inventory.json", json.dumps([b.as_dict() for b in boards], indent=2))
        all_spans = spans_mod.spans(root)
        add("hardware/spans.json", json.dumps([s.as_dict() for s in all_spans], indent=2))
        add("hardware/counters.json", json.dumps(
            {s.number: s.counters for s in all_spans}, indent=2))
        add("hardware/alarms.json", json.dumps(spans_mod.alarm_summary(root), indent=2))
        add("hardware/timing.json", json.dumps(spans_mod.timing(root), indent=2))
        add("hardware/firmware.json", json.dumps(maint.firmware(root), indent=2))
        if not all_spans:
            manifest["missing"].append("no DAHDI spans (module not loaded or no board)")
        for entry in root.listdir("proc/dahdi"):
            text = root.read_raw(f"proc/dahdi/{entry}")
            if text is not None and entry.isdigit():
                add(f"hardware/proc-dahdi/{entry}", text)

        for d in config_dirs:
            d = Path(d)
            if not d.is_dir():
                manifest["missing"].append(f"config directory {d}")
                continue
            for path in _text_files(d):
                rel = path.relative_to(d)
                add(f"config/{d.name}/{rel}", path.read_text(errors="replace"))
        for d in log_dirs:
            d = Path(d)
            if not d.is_dir():
                manifest["missing"].append(f"log directory {d}")
                continue
            for path in _text_files(d):
                add(f"logs/{path.relative_to(d)}", _tail(path, LOG_TAIL_LINES))

        code, text = runner(["dmesg"], 10)
        if code == 0 and text:
            lines = [ln for ln in text.splitlines() if KERNEL_WORDS.search(ln)]
            add("kernel/dmesg-dahdi.txt", "\n".join(lines[-LOG_TAIL_LINES:]) + "\n")
        else:
            manifest["missing"].append("kernel log (dmesg not readable here)")
        _add(tar, "korund-support/MANIFEST.json", json.dumps(manifest, indent=2))
    os.replace(tmp, out)
    return manifest
