import pytest

from devtools import demo
from appliance.base import instance
from appliance.base import store
from appliance.base.instance import Instance


@pytest.fixture
def inst(tmp_path):
    i = Instance(tmp_path / "appliance")
    i.create_dirs()
    return i


@pytest.fixture
def db(inst):
    d = store.open_store(inst.db_path)
    instance.initialise(d)
    yield d
    d.close()


@pytest.fixture
def demo_db(db):
    demo.seed(db)
    return db
