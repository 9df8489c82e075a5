"""The panel's layout holds: one module per feature with a page blueprint
``bp`` named after the feature and an API blueprint ``api_bp`` named
``<feature>_api``; every API route is in the OpenAPI description and every
described operation has a route; one ``_()`` marker, web.i18n's."""
from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

from web import api_common
from web.openapi import OPERATIONS

WEB = Path(__file__).resolve().parents[2] / "web"
METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH"}


def api_routes(app) -> set[tuple[str, str]]:
    """(method, path below /api/v1 with its parameters as {}) of every API rule."""
    out = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(api_common.URL_PREFIX + "/"):
            continue
        path = re.sub(r"<[^>]+>", "{}", rule.rule[len(api_common.URL_PREFIX):])
        out |= {(m.lower(), path) for m in rule.methods & METHODS}
    return out


def test_api_routes_belong_to_api_blueprints_and_pages_to_page_blueprints(panel):
    for rule in panel.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        blueprint = rule.endpoint.rpartition(".")[0]
        assert blueprint.endswith("_api") == rule.rule.startswith(api_common.URL_PREFIX + "/"), \
            (rule.rule, rule.endpoint)


def test_each_blueprint_lives_in_the_module_of_its_feature(panel):
    for name, blueprint in panel.blueprints.items():
        module = blueprint.import_name.rpartition(".")[2]
        feature = name.removesuffix("_api")
        variable = "api_bp" if name.endswith("_api") else "bp"
        assert getattr(importlib.import_module(blueprint.import_name), variable) is blueprint, name
        assert feature == module or (module, feature) == ("audit_log", "audit"), (name, module)


def test_every_api_route_is_described_and_every_description_has_a_route(panel):
    routes = api_routes(panel) - {("get", "/openapi.json")}   # the description itself
    described = {(method, re.sub(r"\{[^}]+\}", "{}", path)) for method, path, *_rest in OPERATIONS}
    assert routes - described == set(), "routes missing from web/openapi.py"
    assert described - routes == set(), "described operations without a route"


def test_one_translation_marker():
    defined = [str(p.relative_to(WEB)) for p in WEB.glob("*.py")
               for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
               if isinstance(node, ast.FunctionDef) and node.name == "_"]
    assert defined == ["i18n.py"]
