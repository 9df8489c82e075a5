import pytest

from appliance.operators import store as operators
from appliance.base.errors import ConfigError
from appliance.render import config as render_config
from appliance.lines import trunks as sip_trunks


def test_demo_has_a_default_group_with_two_operators(demo_db):
    cfg = render_config.load(demo_db)
    assert cfg.default_group.name == "support"
    assert [op.extension for op, _ in cfg.default_group.members] == ["1001", "1002"]
    assert all(len(op.sip_secret) >= 20 for op in cfg.operators)
    assert len({op.sip_secret for op in cfg.operators}) == 2


@pytest.mark.parametrize("ext,name,field", [
    ("1", "Ann", "extension"),
    ("12a4", "Ann", "extension"),
    ("1003", 'Ann"; Dial(x)', "name"),
    ("1003", "Ann\nBob", "name"),
    ("1001", "Duplicate", "extension"),
])
def test_bad_operators_are_refused_with_the_field_named(demo_db, ext, name, field):
    with pytest.raises(ConfigError) as exc:
        operators.add_operator(demo_db, ext, name)
    assert exc.value.field == field
    assert demo_db.execute("SELECT COUNT(*) FROM operators").fetchone()[0] == 2


@pytest.mark.parametrize("host,port,field", [
    ("not a host;", 5060, "host"), ("127.0.0.1", 70000, "port"), ("example.com", "x", "port"),
])
def test_bad_trunk_addresses_are_refused(demo_db, host, port, field):
    with pytest.raises(ConfigError) as exc:
        sip_trunks.update_sip_trunk(demo_db, "pstn", host, port)
    assert exc.value.field == field
    assert render_config.load(demo_db).trunks[0].host == "127.0.0.2"


def test_group_validation(db):
    for kwargs, field in [({"name": "Bad Name"}, "name"), ({"strategy": "loudest"}, "strategy"),
                          ({"ring_timeout": 1}, "ring_timeout")]:
        args = {"name": "sales", "title": "Sales", **kwargs}
        with pytest.raises(ConfigError) as exc:
            operators.add_group(db, **args)
        assert exc.value.field == field


def test_only_one_default_group(demo_db):
    operators.add_group(demo_db, "sales", "Sales", is_default=True)
    assert render_config.load(demo_db).default_group.name == "sales"
    assert demo_db.execute("SELECT COUNT(*) FROM groups WHERE is_default = 1").fetchone()[0] == 1
