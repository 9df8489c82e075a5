"""The scenario pages: the list (create, published version, bound numbers)
and the visual editor, which works through /api/v1 with the session's CSRF
token (web/static/editor.js)."""
from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, request, url_for

from appliance.base import audit
from appliance.base.errors import ConfigError
from appliance.scenarios import store as scenarios

from . import error_text, get_db, gettext, security

bp = Blueprint("scenarios", __name__)
EDITORS = ("admin", "supervisor")


@bp.route("/scenarios/", methods=["GET", "POST"])
@security.roles(*EDITORS)
def index():
    db = get_db()
    form, errors = request.form if request.method == "POST" else {}, {}
    if request.method == "POST":
        name = (form.get("name") or "").strip()
        try:
            with db.atomic():
                scenarios.create(db, name, form.get("title", ""), {"start": "", "nodes": {}})
                audit.record(db, g.user.username, "scenario added", name)
        except ConfigError as exc:
            errors[exc.field] = error_text(exc)
        else:
            return redirect(url_for("scenarios.editor", name=name))
    numbers: dict[str, list[str]] = {}
    for b in scenarios.bindings(db):
        if b["scenario"]:
            numbers.setdefault(b["scenario"], []).append(b["dnis"])
    return render_template("scenarios.html", scenarios=scenarios.all_scenarios(db), numbers=numbers,
                           form=form, errors=errors), (400 if errors else 200)


@bp.get("/scenarios/<name>")
@security.roles(*EDITORS)
def editor(name):
    db = get_db()
    if not db.execute("SELECT 1 FROM scenarios WHERE name = ?", [name]).fetchone():
        abort(404)
    return render_template("scenario_editor.html", name=name, strings=strings(), csrf=security.csrf_token())


def strings() -> dict[str, str]:
    """What editor.js shows, in the user's language."""
    return {
        "save": gettext("Save draft"),
        "saved": gettext("Draft saved"),
        "unsaved": gettext("Unsaved changes"),
        "make_start": gettext("Make it the start"),
        "delete": gettext("Delete the node"),
        "no_problems": gettext("No problems: the scenario can be published."),
        "problems": gettext("Problems"),
        "node": gettext("Node"),
        "keys": gettext("Menu keys"),
        "add_key": gettext("Add a key"),
        "remove": gettext("Remove"),
        "key": gettext("Key"),
        "not_a_key": gettext("A phone key is 0-9, * or #"),
        "key_exists": gettext("This key is already in the menu"),
        "select_node": gettext("Click a node to edit it; drag from an output's dot to a node to connect."),
        "published": gettext("Published version {version}"),
        "publish_failed": gettext("Not published"),
        "rolled_back": gettext("Rolled back: version {version} is now running"),
        "simulate_error": gettext("The walk stopped"),
        "played": gettext("Plays"),
        "waits": gettext("Waits for a key {timeout} s"),
        "pressed": gettext("key"),
        "no_key": gettext("no key"),
        "digits": gettext("Digits entered"),
        "says": gettext("Says"),
        "route": gettext("Sent to"),
        "to_group": gettext("group {target}"),
        "to_operator": gettext("operator {target}"),
        "to_number": gettext("number {target}"),
        "hangup": gettext("Hangs up"),
        "lookup": gettext("Looks up in"),
        "found": gettext("found"),
        "not_found": gettext("not found"),
        "goto": gettext("Goes on in scenario"),
        "records": gettext("Records a message for group {group} (up to {seconds} s)"),
        "records_empty": gettext("the caller says nothing: nothing is kept"),
        "callback": gettext("Stores a callback order for group {group}: number {number}, {when}"),
        "asap": gettext("as soon as possible"),
        "bound": gettext("Number {dnis} now runs this scenario"),
        "error": gettext("Error"),
        "none": "—",
        "roll_back": gettext("Roll back to this version"),
        "leave": gettext("Leave without saving?"),
        "days": gettext("Mon,Tue,Wed,Thu,Fri,Sat,Sun"),
        "comma": gettext("separate with commas"),
    }
