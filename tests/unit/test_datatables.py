import pytest

from appliance import datatables
from appliance.model import ConfigError

CSV = "account;name;balance\n1001;Иван Петров;4200\n1002;Анна Смирнова;15\n"


@pytest.mark.parametrize("raw,encoding", [
    (CSV.encode("utf-8"), "utf-8"),
    (b"\xef\xbb\xbf" + CSV.encode("utf-8"), "utf-8"),
    (CSV.encode("cp1251"), "cp1251"),
])
def test_encodings_and_delimiters_are_detected(db, raw, encoding):
    p = datatables.import_csv(db, "accounts", raw, "account")
    assert p.encoding == encoding and p.columns == ["account", "name", "balance"]
    assert datatables.lookup(db, "accounts", "1001") == {"account": "1001", "name": "Иван Петров", "balance": "4200"}
    assert datatables.lookup(db, "accounts", "9999") is None


def test_a_bad_file_changes_nothing_and_says_where(db):
    datatables.import_csv(db, "accounts", CSV.encode(), "account")
    bad = "account,name,balance\n1001,A,1\n1001,B,2\n1003,C\n,D,4\n".encode()
    p = datatables.preview(bad, "account")
    assert p.errors == ["line 3: the key '1001' is repeated", "line 4: 2 fields, expected 3",
                        "line 5: the key is empty"]
    with pytest.raises(ConfigError) as exc:
        datatables.import_csv(db, "accounts", bad, "account")
    assert "line 3" in exc.value.text
    # The previous import is intact.
    assert datatables.lookup(db, "accounts", "1002")["balance"] == "15"
    assert datatables.preview(b"a,b\n1,2\n", "account").errors == ["there is no key column 'account'"]
    assert datatables.preview(b"", "account").errors == ["the file is empty"]


def test_reimport_replaces_rows(db):
    datatables.import_csv(db, "accounts", CSV.encode(), "account")
    datatables.import_csv(db, "accounts", "account,balance\n7,1\n".encode(), "account")
    assert datatables.lookup(db, "accounts", "1001") is None
    assert datatables.lookup(db, "accounts", "7") == {"account": "7", "balance": "1"}


def test_lookup_node_in_the_simulator(db):
    from appliance.scenarios.graph import check
    from appliance.scenarios.simulate import simulate
    datatables.import_csv(db, "accounts", CSV.encode(), "account")
    g = {"start": "in", "nodes": {
        "in": {"type": "input", "prompts": ["p"], "variable": "acct", "next": {"next": "find", "fail": "ops"}},
        "find": {"type": "lookup", "table": "accounts", "by": "acct", "prefix": "client",
                 "next": {"found": "say", "not_found": "ops"}},
        "say": {"type": "say", "value": "{client_balance}", "as": "number", "next": {"next": "ops"}},
        "ops": {"type": "route", "to": "group", "group": "support"}}}
    assert check(g) == []
    lookup = lambda t, k: datatables.lookup(db, t, k)  # noqa: E731
    r = simulate(g, "1001#", lookup=lookup)
    assert {"say": "4200", "as": "number"} in r["events"] and r["vars"]["client_name"] == "Иван Петров"
    r = simulate(g, "5555#", lookup=lookup)
    assert {"lookup": "accounts", "key": "5555", "found": False} in r["events"]
    assert not any("say" in e for e in r["events"])
