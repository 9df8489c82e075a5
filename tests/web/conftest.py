"""Panel fixtures for tests that need no Asterisk: a fresh instance with the
demo configuration, one user per role, and Flask's test client."""
from __future__ import annotations

import re

import pytest

from devtools import demo
from appliance.base import instance
from appliance.base import store
from appliance.users import store as users
from appliance.base.instance import Instance
from web import create_app

PASSWORD = "Correct-Horse-42"


@pytest.fixture
def panel(tmp_path):
    inst = Instance(tmp_path / "appliance")
    inst.create_dirs()
    db = store.open_store(inst.db_path)
    instance.initialise(db)
    demo.seed(db)
    op1 = db.execute("SELECT id FROM operators WHERE extension = '1001'").fetchone()[0]
    for name, role in (("admin", "admin"), ("super", "supervisor"), ("tech", "technician")):
        users.create(db, name, PASSWORD, role, language="en")
    users.create(db, "anna", PASSWORD, "operator", language="en", operator_id=op1)
    db.close()
    app = create_app(inst)
    return app


class Browser:
    """Flask's test client with the panel's CSRF token at hand."""

    def __init__(self, app):
        self.client = app.test_client()

    def token(self, path="/login"):
        page = self.client.get(path).get_data(as_text=True)
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def login(self, username, password=PASSWORD):
        return self.client.post("/login", data={"csrf_token": self.token(), "username": username,
                                                "password": password})

    def post(self, path, data, token_from=None):
        data = dict(data)
        data.setdefault("csrf_token", self.token(token_from or path))
        return self.client.post(path, data=data)


@pytest.fixture
def browser(panel):
    return Browser(panel)


def as_role(panel, username) -> Browser:
    b = Browser(panel)
    assert b.login(username).status_code == 302
    return b
