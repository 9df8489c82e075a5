import pytest

from appliance.base import upload
from appliance.base.errors import ConfigError
from appliance.tables import store as datatables

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


# -- preview and its report -----------------------------------------------------

def test_preview_detects_encoding_delimiter_and_key_without_writing(db):
    raw = "account;name;balance\r\n1001;Иван Петров;4200\r\n".encode("cp1251")
    p = datatables.preview(raw)
    assert (p.encoding, p.delimiter, p.key_column, p.ok) == ("cp1251", ";", "account", True)
    assert p.rows == [{"account": "1001", "name": "Иван Петров", "balance": "4200"}]
    tabbed = "\ufeffid\tcity\n1\tТверь\n".encode("utf-8")
    p = datatables.preview(tabbed, "id")
    assert (p.encoding, p.delimiter, p.rows) == ("utf-8", "\t", [{"id": "1", "city": "Тверь"}])
    assert datatables.preview("id,city\n1,Омск\n".encode("utf-16"), "id").rows == [{"id": "1", "city": "Омск"}]
    assert datatables.tables(db) == []


def test_the_report_lists_each_bad_line_with_its_reason():
    raw = ('id;name\n1;A\n1;B\n2\n;C\n3;' + "x" * (upload.MAX_FIELD + 1) + '\n4;bell\x07\n5;"ok; quoted"\n').encode()
    p = datatables.preview(raw, "id")
    assert [(x.line, x.error.message) for x in p.problems] == [
        (3, "the key '{key}' is repeated"),
        (4, "{count} fields, expected {expected}"),
        (5, "the key is empty"),
        (6, "the value in column '{column}' is longer than {max} characters"),
        (7, "the value in column '{column}' has control characters (binary data?)"),
    ]
    assert p.rows[-1] == {"id": "5", "name": "ok; quoted"}
    assert not p.ok


@pytest.mark.parametrize("raw,error", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "the file is binary (it has zero bytes), not CSV text"),
    (b"id,name\n1,\x98\x98\n", "the file is neither UTF-8 nor Windows-1251 text"),
    ("имя,x\n1,2\n".encode(), "column names must be latin letters, digits and _: имя"),
    (b"id,id\n1,2\n", "two columns have the same name"),
    (b"\n\n", "the file is empty"),
])
def test_files_that_are_not_tables_are_refused(raw, error):
    p = datatables.preview(raw, "id")
    assert error in [x.error.text for x in p.problems]


def test_an_oversized_file_is_refused(monkeypatch):
    monkeypatch.setattr(upload, "MAX_BYTES", 100)
    assert datatables.preview(b"id\n" + b"1\n" * 60, "id").errors == ["the file is larger than 0 MB"]


def test_too_many_problems_stop_the_report(monkeypatch):
    monkeypatch.setattr(upload, "MAX_PROBLEMS", 3)
    p = datatables.preview(b"id,x\n" + b"1\n" * 10, "id")
    assert len(p.problems) == 4 and "too many problems" in p.errors[-1]


# -- staged import, merge, rows, delete, export ---------------------------------

def test_stage_then_confirm_imports_exactly_the_previewed_bytes(db):
    token, p = datatables.stage(db, "accounts", CSV.encode("cp1251"), "", "replace", "admin", "a.csv")
    assert token and p.ok and datatables.table(db, "accounts") is None
    with pytest.raises(ConfigError):
        datatables.confirm(db, token, "someone-else")
    s = datatables.confirm(db, token, "admin")
    assert s.name == "accounts" and datatables.lookup(db, "accounts", "1002")["name"] == "Анна Смирнова"
    with pytest.raises(ConfigError):  # a token imports once
        datatables.confirm(db, token, "admin")


def test_a_bad_upload_is_not_kept_and_changes_nothing(db):
    datatables.import_csv(db, "accounts", CSV.encode(), "account")
    token, p = datatables.stage(db, "accounts", b"account;name\n1;x\n1;y\n", "account", "replace", "admin")
    assert token is None and p.errors == ["line 3: the key '1' is repeated"]
    assert db.execute("SELECT COUNT(*) FROM data_uploads").fetchone()[0] == 0
    assert datatables.table(db, "accounts").rows == 2


def test_merge_updates_by_key_and_needs_the_same_columns(db):
    datatables.import_csv(db, "accounts", CSV.encode(), "account")
    datatables.import_csv(db, "accounts", "account,name,balance\n1002,Анна,16\n1003,Олег,0\n".encode(),
                          mode="merge")
    assert [r["balance"] for r in datatables.rows(db, "accounts")[1]] == ["4200", "16", "0"]
    with pytest.raises(ConfigError) as exc:
        datatables.import_csv(db, "accounts", b"account,balance\n1,2\n", "account", mode="merge")
    assert "to merge" in exc.value.text
    assert datatables.table(db, "accounts").rows == 3


def test_rows_are_edited_one_at_a_time_and_keys_stay_unique(db):
    datatables.import_csv(db, "accounts", CSV.encode(), "account")
    datatables.put_row(db, "accounts", {"account": "1001", "name": "Иван Петров", "balance": "5000"}, "1001")
    assert datatables.lookup(db, "accounts", "1001")["balance"] == "5000"
    datatables.put_row(db, "accounts", {"account": "2001", "name": "Иван", "balance": "1"}, "1001")
    assert datatables.lookup(db, "accounts", "1001") is None and datatables.lookup(db, "accounts", "2001")
    for values, original, field in (
            ({"account": "1002", "name": "x"}, "2001", "account"),   # key taken
            ({"account": "1002", "name": "x"}, None, "account"),     # added twice
            ({"account": "", "name": "x"}, None, "account"),         # empty key
            ({"account": "7", "name": "a\nb"}, None, "name")):       # line break
        with pytest.raises(ConfigError) as exc:
            datatables.put_row(db, "accounts", values, original)
        assert exc.value.field == field
    datatables.put_row(db, "accounts", {"account": "3001", "name": "Новый", "balance": "0"})
    datatables.delete_row(db, "accounts", "1002")
    assert [r["account"] for r in datatables.rows(db, "accounts")[1]] == ["2001", "3001"]
    assert datatables.rows(db, "accounts", search="Нов") == (1, [{"account": "3001", "name": "Новый", "balance": "0"}])
    assert datatables.rows(db, "accounts", search="%")[0] == 0


def test_export_reimports_to_the_same_rows(db):
    datatables.import_csv(db, "accounts", (CSV + '1003;"Quote ""Q""; semi";1\n').encode(), "account")
    out = datatables.export_csv(db, "accounts")
    assert out.startswith(b"\xef\xbb\xbf") and "Иван Петров".encode() in out
    before = datatables.rows(db, "accounts")
    datatables.import_csv(db, "copy", out, "account")
    assert datatables.rows(db, "copy") == before


def test_a_table_used_by_a_scenario_cannot_be_deleted(db):
    from appliance.scenarios import store as scenarios
    datatables.import_csv(db, "accounts", CSV.encode(), "account")
    scenarios.create(db, "balance", "Balance", {"start": "f", "nodes": {
        "f": {"type": "lookup", "table": "accounts", "by": "ani", "next": {}}}})
    with pytest.raises(ConfigError) as exc:
        datatables.delete_table(db, "accounts")
    assert "balance" in exc.value.text and datatables.table(db, "accounts")
    scenarios.save_draft(db, "balance", {"start": "", "nodes": {}})
    datatables.delete_table(db, "accounts")
    assert datatables.tables(db) == [] and db.execute("SELECT COUNT(*) FROM data_rows").fetchone()[0] == 0


def test_an_unknown_import_mode_is_refused(db):
    with pytest.raises(ConfigError) as exc:
        datatables.import_csv(db, "accounts", CSV.encode(), "account", mode="append")
    assert exc.value.field == "mode" and datatables.tables(db) == []
