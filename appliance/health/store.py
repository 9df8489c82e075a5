"""Hardware health (H3): sensors and span alarms collected into the store.

One ``sweep`` reads every sensor of the appliance model (drivers.sensors) and
the span alarms (drivers.spans), stores the latest readings, adds them to a
history averaged into fixed buckets (so the table stays small however short
the interval), and keeps the alarm log: an alarm is raised once when a
condition appears and cleared (with its time) when it goes. ``run`` is the
``korund health`` service: a sweep every ``health.interval`` seconds.

Settings (all optional): ``hw.root`` (the directory standing for '/', for
recorded trees and the VM), ``hw.model`` (the sensor table's appliance
model), ``hw.i2c_bus`` (bus number or adapter name overriding the table),
``health.interval`` (s, default 30), ``health.bucket`` (history bucket, s,
default 300), ``health.keep_days`` (default 30).
"""
from __future__ import annotations

import logging
import socket
import time
from datetime import datetime, timedelta, timezone
from html import escape

from appliance.base import clock, store
from appliance.base.errors import ConfigError
from drivers import sensor_models, sensors

log = logging.getLogger(__name__)

INTERVAL, BUCKET, KEEP_DAYS = 30, 300, 30
CRITICAL_SPAN_ALARMS = {"red", "blue", "los", "lfa", "lmfa", "notopen"}


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="seconds")


def _int_setting(db, key: str, default: int, lo: int = 1) -> int:
    try:
        return max(lo, int(store.get_setting(db, key, default)))
    except (TypeError, ValueError):
        return default


def _check_int(lo: int, hi: int):
    def check(value: str) -> str:
        if not value.isdigit() or not lo <= int(value) <= hi:
            raise ConfigError("value", "must be between {lo} and {hi}", lo=lo, hi=hi)
        return value
    return check


def _check_model(value: str) -> str:
    if value not in sensor_models.APPLIANCES:
        raise ConfigError("hw.model", "one of {choices}", choices=", ".join(sensor_models.APPLIANCES))
    return value


def _check_size(value: str) -> str:
    w, _, h = value.partition("x")
    if not (w.isdigit() and h.isdigit() and 8 <= int(w) <= 40 and 1 <= int(h) <= 4):
        raise ConfigError("frontpanel.size", "columns x rows, like 20x4 or 16x2")
    return value


def _check_free(value: str) -> str:
    if any(c in value for c in "\n\r\0"):
        raise ConfigError("value", "one line of text")
    return value


SETTINGS = {
    "hw.root": _check_free, "hw.model": _check_model, "hw.i2c_bus": _check_free,
    "health.interval": _check_int(5, 3600), "health.bucket": _check_int(10, 86400),
    "health.keep_days": _check_int(1, 3650), "frontpanel.port": _check_free,
    "frontpanel.baud": _check_int(1200, 115200), "frontpanel.size": _check_size,
}


def set_setting(db, key: str, value: str) -> None:
    """Change one of the hardware settings above, checked (ConfigError if bad)."""
    if key not in SETTINGS:
        raise ConfigError(key, "not a setting that can be changed here")
    store.set_setting(db, key, SETTINGS[key](value))


def hw_root(db):
    """The drivers' filesystem root from ``hw.root`` (a drivers.root.Root)."""
    path = store.get_setting(db, "hw.root") or None   # None: $KORUND_HW_ROOT or "/"
    try:
        from drivers.root import Root
    except ImportError:
        return path or "/"
    return Root(path)


def hw_model(db) -> str:
    return store.get_setting(db, "hw.model", sensor_models.DEFAULT_MODEL) or sensor_models.DEFAULT_MODEL


def read_sensors(db, root=None, smbus=None) -> list[sensors.Reading]:
    root = hw_root(db) if root is None else root
    return sensors.Sensors(root, hw_model(db), smbus or sensors.default_smbus,
                           store.get_setting(db, "hw.i2c_bus")).read_all()


def read_spans(root) -> list[dict]:
    """[{number, name, alarms: [..]}] from drivers.spans; raises when unreadable."""
    from drivers import spans as dahdi_spans
    out = []
    for s in dahdi_spans.spans(root):
        alarms = sorted({str(a).lower() for a in (s.alarms or ()) if str(a).lower() not in ("", "ok")})
        out.append({"number": s.number, "name": s.name or f"span {s.number}",
                    "alarms": alarms})
    return out


def _wanted_alarms(readings, span_list) -> dict[tuple[str, str], tuple[str, str]]:
    wanted = {}
    for r in readings:
        if r.kind == "temperature" and r.status in (sensors.WARNING, sensors.CRITICAL):
            wanted[(f"sensor:{r.id}", "temperature")] = (
                r.status, f"{r.label}: {r.value:g} °C is over the {r.status} limit")
        elif r.kind == "fan" and r.status == sensors.FAULT:
            wanted[(f"sensor:{r.id}", "fan_failure")] = ("critical", f"{r.label}: {r.detail}")
        elif r.kind == "power" and r.status == sensors.FAULT:
            wanted[(f"sensor:{r.id}", "psu_fault")] = ("critical", f"{r.label}: {r.detail}")
    for s in span_list or ():
        for a in s["alarms"]:
            wanted[(f"span:{s['number']}", a)] = (
                "critical" if a in CRITICAL_SPAN_ALARMS else "warning",
                f"{s['name']}: {a.upper()} alarm")
    return wanted


def _reconcile(db, wanted, at: str, spans_known: bool) -> tuple[list, list]:
    open_rows = db.execute(
        "SELECT id, source, kind, severity FROM health_alarms WHERE cleared_at IS NULL").fetchall()
    current = {(src, kind): (aid, sev) for aid, src, kind, sev in open_rows}
    raised, cleared = [], []
    for key, (aid, sev) in current.items():
        if not key[0].startswith(("sensor:", "span:")):
            continue                        # another service's alarm (recordings' disk guard)
        if key[0].startswith("span:") and not spans_known:
            continue                        # spans unreadable now: leave their alarms as they are
        if key not in wanted:
            db.execute("UPDATE health_alarms SET cleared_at = ? WHERE id = ?", [at, aid])
            cleared.append(key)
        elif wanted[key][0] != sev:
            db.execute("UPDATE health_alarms SET severity = ?, message = ? WHERE id = ?",
                       [wanted[key][0], wanted[key][1], aid])
    for key, (sev, message) in wanted.items():
        if key not in current:
            db.execute("INSERT INTO health_alarms (source, kind, severity, message, raised_at) "
                       "VALUES (?, ?, ?, ?, ?)", [key[0], key[1], sev, message, at])
            raised.append(key)
    return raised, cleared


def sweep(db, root=None, smbus=None, spans_reader=read_spans, now: datetime | None = None) -> dict:
    """One collection round; returns what was read and which alarms changed."""
    now = now or clock.now()
    at = _iso(now)
    root = hw_root(db) if root is None else root
    readings = read_sensors(db, root, smbus)
    try:
        span_list, span_error = spans_reader(root), None
    except Exception as exc:  # noqa: BLE001 - no DAHDI, no drivers module: reported, not fatal
        span_list, span_error = None, f"{exc.__class__.__name__}: {exc}"
    step = _int_setting(db, "health.bucket", BUCKET, 10)
    bucket = int(now.timestamp()) // step * step
    with db.atomic():
        for r in readings:
            db.execute(
                "INSERT INTO sensor_latest (sensor, label, kind, unit, value, status, detail, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(sensor) DO UPDATE SET label = excluded.label, "
                "kind = excluded.kind, unit = excluded.unit, value = excluded.value, "
                "status = excluded.status, detail = excluded.detail, at = excluded.at",
                [r.id, r.label, r.kind, r.unit, r.value, r.status, r.detail, at])
            if r.value is not None and r.kind in ("temperature", "fan"):
                db.execute(
                    "INSERT INTO sensor_history (sensor, bucket, value, samples) VALUES (?, ?, ?, 1) "
                    "ON CONFLICT(sensor, bucket) DO UPDATE SET "
                    "value = (value * samples + excluded.value) / (samples + 1), samples = samples + 1",
                    [r.id, bucket, r.value])
        ids = [r.id for r in readings]     # a model change leaves no stale rows behind
        if ids:
            db.execute(f"DELETE FROM sensor_latest WHERE sensor NOT IN ({', '.join('?' * len(ids))})", ids)
        else:
            db.execute("DELETE FROM sensor_latest")
        raised, cleared = _reconcile(db, _wanted_alarms(readings, span_list), at, span_list is not None)
        keep = _int_setting(db, "health.keep_days", KEEP_DAYS)
        db.execute("DELETE FROM sensor_history WHERE bucket < ?",
                   [int((now - timedelta(days=keep)).timestamp())])
        db.execute("DELETE FROM health_alarms WHERE cleared_at IS NOT NULL AND cleared_at < ?",
                   [_iso(now - timedelta(days=max(keep, 365)))])
    return {"at": at, "readings": readings, "spans": span_list, "spans_error": span_error,
            "raised": raised, "cleared": cleared}


# -- reading back -----------------------------------------------------------------
def latest(db) -> list[dict]:
    cols = ["sensor", "label", "kind", "unit", "value", "status", "detail", "at"]
    rows = db.execute(f"SELECT {', '.join(cols)} FROM sensor_latest ORDER BY kind DESC, sensor").fetchall()
    return [dict(zip(cols, r)) for r in rows]


def history(db, sensor: str, hours: int = 24, now: datetime | None = None) -> list[tuple[int, float]]:
    since = int(((now or clock.now()) - timedelta(hours=hours)).timestamp())
    return [tuple(r) for r in db.execute(
        "SELECT bucket, value FROM sensor_history WHERE sensor = ? AND bucket >= ? ORDER BY bucket",
        [sensor, since]).fetchall()]


def alarms(db, active_only: bool = False, limit: int = 200) -> list[dict]:
    cols = ["id", "source", "kind", "severity", "message", "raised_at", "cleared_at"]
    where = "WHERE cleared_at IS NULL" if active_only else ""
    rows = db.execute(f"SELECT {', '.join(cols)} FROM health_alarms {where} "
                      "ORDER BY cleared_at IS NOT NULL, id DESC LIMIT ?", [limit]).fetchall()
    return [dict(zip(cols, r)) for r in rows]


def chart_svg(points: list[tuple[int, float]], unit: str = "", limits: tuple = (),
              width: int = 360, height: int = 90) -> str:
    """A small line chart as inline SVG (no JS): time on x, value on y, the
    limits as dashed lines, first/last time and min/max value as labels."""
    pad_l, pad_b, pad_t = 40, 14, 6
    if not points:
        return ""
    xs = [p[0] for p in points]
    values = [p[1] for p in points] + [v for v in limits if v is not None]
    lo, hi = min(values), max(values)
    if hi - lo < 1:
        lo, hi = lo - 1, hi + 1
    x0, x1 = min(xs), max(max(xs), min(xs) + 1)
    w, h = width - pad_l - 4, height - pad_b - pad_t

    def px(t):
        return pad_l + (t - x0) * w / (x1 - x0)

    def py(v):
        return pad_t + (hi - v) * h / (hi - lo)

    path = " ".join(f"{'M' if i == 0 else 'L'}{px(t):.1f},{py(v):.1f}" for i, (t, v) in enumerate(points))
    fmt = lambda t: datetime.fromtimestamp(t, timezone.utc).strftime("%H:%M")  # noqa: E731
    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img">',
             f'<rect x="{pad_l}" y="{pad_t}" width="{w}" height="{h}" fill="none" stroke="#ccc"/>']
    for v in limits:
        if v is not None:
            parts.append(f'<line class="limit" x1="{pad_l}" x2="{pad_l + w}" y1="{py(v):.1f}" '
                         f'y2="{py(v):.1f}" stroke="#c33" stroke-dasharray="4 3"/>')
    parts.append(f'<path d="{path}" fill="none" stroke="#1565c0" stroke-width="1.5"/>')
    if len(points) == 1:
        parts.append(f'<circle cx="{px(xs[0]):.1f}" cy="{py(points[0][1]):.1f}" r="2" fill="#1565c0"/>')
    u = escape(unit)
    parts += [f'<text x="2" y="{pad_t + 8}" font-size="9">{hi:g} {u}</text>',
              f'<text x="2" y="{pad_t + h}" font-size="9">{lo:g} {u}</text>',
              f'<text x="{pad_l}" y="{height - 2}" font-size="9">{fmt(x0)}</text>',
              f'<text x="{pad_l + w}" y="{height - 2}" font-size="9" text-anchor="end">{fmt(max(xs))}</text>',
              "</svg>"]
    return "".join(parts)


# -- the front panel's view and the service ------------------------------------------
def ip_address(db) -> str:
    addr = store.get_setting(db, "net.address", "") or ""
    if addr and not addr.startswith("127.") and addr != "0.0.0.0":
        return addr
    try:   # the address the default route would use; a UDP connect sends nothing
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            return s.getsockname()[0]
    except OSError:
        return addr or "-"


def panel_status(db) -> dict:
    """What the front panel shows: IP, calls now, open alarms, temperatures."""
    calls_now = db.execute(
        "SELECT COUNT(*) FROM calls WHERE ended_at IS NULL AND started_at >= ?",
        [_iso(clock.now() - timedelta(hours=12))]).fetchone()[0]
    return {"ip": ip_address(db), "calls_now": calls_now,
            "alarms": alarms(db, active_only=True, limit=50),
            "sensors": latest(db)}


def run(inst) -> None:   # pragma: no cover - the supervised loop; sweep is tested
    db = inst.open_store()
    log.info("health collector started")
    while True:
        started = time.monotonic()
        try:
            result = sweep(db)
            for key in result["raised"]:
                log.warning("alarm raised: %s %s", *key)
            for key in result["cleared"]:
                log.info("alarm cleared: %s %s", *key)
        except Exception:  # noqa: BLE001 - a bad round must not stop the collector
            log.exception("health sweep failed")
        interval = _int_setting(db, "health.interval", INTERVAL)
        time.sleep(max(1.0, interval - (time.monotonic() - started)))
