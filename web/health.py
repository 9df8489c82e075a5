"""Hardware health (boards, spans, sensors with history charts, alarm log) and
Diagnostics (the technicians' tests from drivers.maint) pages."""
from __future__ import annotations

import importlib
import io
import json
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from appliance.base import audit
from appliance.health import storage, store as health
from web import api_common, security
from web.context import get_db, gettext

bp = Blueprint("health", __name__)
api_bp = api_common.blueprint("health_api", __name__)
READERS = ("admin", "supervisor", "technician")
TECHNICIANS = ("admin", "technician")


def _boards(root) -> tuple[list, str | None]:
    try:
        from drivers import inventory
        return [b.as_dict() for b in inventory.boards(root)], None
    except Exception as exc:  # noqa: BLE001 - shown as "inventory not available"
        return [], f"{exc.__class__.__name__}: {exc}"


def _spans(root) -> tuple[list, str | None]:
    try:
        from drivers import spans
        return [s.as_dict() for s in spans.spans(root)], None
    except Exception as exc:  # noqa: BLE001
        return [], f"{exc.__class__.__name__}: {exc}"


def _sensor_specs(db) -> dict:
    from drivers import sensor_models
    return {s["id"]: s for s in sensor_models.sensors_for(health.hw_model(db))}


@bp.get("/health/")
@security.roles(*READERS)
def page():
    db = get_db()
    root = health.hw_root(db)
    boards, boards_error = _boards(root)
    spans, spans_error = _spans(root)
    specs = _sensor_specs(db)
    sensors = health.latest(db)
    for s in sensors:
        spec = specs.get(s["sensor"], {})
        limits = (spec.get("warning"), spec.get("critical")) if s["kind"] == "temperature" else (
            (spec.get("minimum"),) if s["kind"] == "fan" else ())
        s["chart"] = health.chart_svg(health.history(db, s["sensor"]), s["unit"], limits) \
            if s["kind"] in ("temperature", "fan") else ""
    return render_template("health.html", boards=boards, boards_error=boards_error, spans=spans,
                           spans_error=spans_error, sensors=sensors, alarms=health.alarms(db),
                           storage=storage.summary(db, current_app.config["KORUND_INSTANCE"]),
                           can_refresh=g.user.role in TECHNICIANS)


@bp.post("/health/refresh")
@security.roles(*TECHNICIANS)
def refresh():
    db = get_db()
    result = health.sweep(db)
    audit.record(db, g.user.username, "health read", "",
                 {"raised": len(result["raised"]), "cleared": len(result["cleared"])})
    flash(gettext("Sensors and span alarms read."))
    return redirect(url_for("health.page"))


@api_bp.get("/health")
@security.roles(*READERS)
def api_health():
    db = get_db()
    return jsonify({"sensors": health.latest(db), "alarms": health.alarms(db, active_only=True),
                    "storage": storage.summary(db, current_app.config["KORUND_INSTANCE"])})


# -- diagnostics -------------------------------------------------------------------
# The technicians' tests are drivers.maint's (dahdi_maint, dahdi_test, sysfs);
# each returns a Result(ok, available, message, command, output, data), and
# says "not available" itself when the tool or the DAHDI module is missing.
TESTS = ("firmware", "timing", "loopback", "counters")
SPAN_TESTS = ("loopback", "counters")
LOOPBACK_MODES = ("localhost", "networkline", "networkpayload", "off")


def _maint():
    """(drivers.maint, drivers.bundle) or (None, the import error)."""
    try:
        return (importlib.import_module("drivers.maint"), importlib.import_module("drivers.bundle")), None
    except ImportError as exc:
        return None, str(exc)


def _as_result(test: str, value) -> dict:
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    if test == "firmware":        # a plain report, not a pass/fail
        return {"test": test, "ok": True, "available": True, "message": "",
                "command": "", "output": json.dumps(value, indent=2, ensure_ascii=False, default=str)}
    text = value.get("output") or ""
    if value.get("data"):
        text = (text + "\n" if text else "") + json.dumps(value["data"], indent=2, ensure_ascii=False,
                                                          default=str)
    return {"test": test, "ok": bool(value.get("ok")), "available": bool(value.get("available", True)),
            "message": value.get("message", ""), "command": " ".join(value.get("command") or []),
            "output": text}


def _unavailable(test: str, message: str) -> dict:
    return {"test": test, "ok": False, "available": False, "message": message, "command": "", "output": ""}


def run_test(mods, root, test: str, span: int | None, mode: str = "localhost") -> dict:
    if mods is None:
        return _unavailable(test, gettext("Not available: the diagnostics module (drivers.maint) "
                                          "is not installed on this appliance."))
    maint = mods[0]
    try:
        if test == "firmware":
            return _as_result(test, maint.firmware(root))
        if test == "timing":
            return _as_result(test, maint.timing_test(root))
        if test == "loopback":
            return _as_result(test, maint.loopback(root, span, mode))
        return _as_result(test, maint.reset_counters(root, span))
    except FileNotFoundError as exc:
        return _unavailable(test, gettext("Not available: {tool} is not installed.",
                                          tool=exc.filename or str(exc)))
    except Exception as exc:  # noqa: BLE001 - a failed test is a result, not a 500
        return {"test": test, "ok": False, "available": True, "command": "", "output": "",
                "message": gettext("The test failed: {error}", error=str(exc))}


@bp.route("/diagnostics/", methods=["GET", "POST"])
@security.roles(*TECHNICIANS)
def diagnostics():
    db = get_db()
    root = health.hw_root(db)
    mods, missing = _maint()
    spans, _err = _spans(root)
    result = None
    if request.method == "POST":
        test = request.form.get("test", "")
        mode = request.form.get("mode", "localhost")
        if test not in TESTS or mode not in LOOPBACK_MODES:
            abort(400)
        span = None
        raw = request.form.get("span", "")
        if test in SPAN_TESTS and (raw or test == "loopback"):
            try:
                span = int(raw)
            except ValueError:
                span = -1
            if not 1 <= span <= 255:
                result = {"test": test, "ok": False, "available": True, "command": "", "output": "",
                          "message": gettext("Choose a span.")}
        if result is None:
            result = run_test(mods, root, test, span, mode)
            audit.record(db, g.user.username, "diagnostics run", test,
                         {"span": span, "ok": result["ok"], "message": result["message"][:200]})
    return render_template("diagnostics.html", tests=TESTS, span_tests=SPAN_TESTS,
                           modes=LOOPBACK_MODES, missing=missing, spans=spans, result=result)


@bp.post("/diagnostics/bundle")
@security.roles(*TECHNICIANS)
def bundle():
    db = get_db()
    mods, _missing = _maint()
    if mods is None:
        flash(gettext("Not available: the diagnostics module (drivers.maint) is not installed "
                      "on this appliance."), "error")
        return redirect(url_for("health.diagnostics"))
    inst = current_app.config["KORUND_INSTANCE"]
    with tempfile.TemporaryDirectory(prefix="korund-bundle-") as tmp:
        out = Path(tmp) / "korund-support.tar.gz"
        try:
            # callers' numbers are masked: anything longer than the extensions in use
            longest = db.execute("SELECT MAX(LENGTH(extension)) FROM operators").fetchone()[0] or 0
            manifest = mods[1].make_bundle(out, health.hw_root(db), config_dirs=[inst.etc, "/etc/dahdi"],
                                           log_dirs=[inst.log, inst.service_log], keep_digits=longest)
        except Exception as exc:  # noqa: BLE001
            flash(gettext("The test failed: {error}", error=str(exc)), "error")
            return redirect(url_for("health.diagnostics"))
        data = out.read_bytes()
    audit.record(db, g.user.username, "support bundle", "",
                 {"files": len(manifest.get("files", [])), "missing": manifest.get("missing", [])})
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return send_file(io.BytesIO(data), mimetype="application/gzip", as_attachment=True,
                     download_name=f"korund-support-{stamp}.tar.gz")
