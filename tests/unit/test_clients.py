"""The CRM core: number normalisation, validation, custom fields, search,
history, CSV import reports and an export that imports back unchanged, and
the screen-pop URL template."""
from __future__ import annotations

import pytest

from appliance.clients import store as clients
from appliance.base.errors import ConfigError


@pytest.mark.parametrize("raw,stored", [
    ("89161234567", "79161234567"), ("+7 (916) 123-45-67", "79161234567"), ("7-916-123-45-67", "79161234567"),
    ("8 800 555 35 35", "78005553535"), ("+44 20 7946 0958", "442079460958"), ("1001", "1001"),
    ("", ""),
])
def test_russian_numbers_have_one_form_and_others_keep_their_digits(raw, stored):
    assert clients.normalise(raw) == stored


@pytest.mark.parametrize("bad", ["abc", "12", "+7 916 12a", "1" * 21, "9161234567;DROP"])
def test_bad_numbers_are_refused(bad):
    with pytest.raises(ConfigError) as exc:
        clients.check_phone(bad)
    assert exc.value.field == "phones"


def test_save_find_update_and_one_number_one_client(demo_db):
    db = demo_db
    cid = clients.save(db, {"name": "Иван Петров", "phones": ["8 916 123-45-67", "+44 20 7946 0958"],
                            "company": "ООО Ромашка", "personal_operator": "1001", "vip": True}, by="anna")
    c = clients.get(db, cid)
    assert c["phones"] == ["79161234567", "442079460958"] and c["vip"] is True
    assert c["personal_operator"] == "1001" and c["created_by"] == "anna" and c["fields"] == {}
    for form in ("+79161234567", "89161234567", "7 916 123 45 67"):
        assert clients.find_by_number(db, form)["id"] == cid
    assert clients.find_by_number(db, "89160000000") is None
    with pytest.raises(ConfigError) as exc:
        clients.save(db, {"name": "Другой", "phones": "+7 916 123 45 67"})
    assert exc.value.field == "phones" and "Иван Петров" in exc.value.text
    # An update keeps what it does not mention.
    assert clients.save(db, {"id": cid, "email": "ivan@example.ru"}, by="boris") == cid
    c = clients.get(db, cid)
    assert c["email"] == "ivan@example.ru" and c["company"] == "ООО Ромашка" and c["updated_by"] == "boris"
    with pytest.raises(ConfigError):
        clients.save(db, {"id": 999, "name": "x"})


@pytest.mark.parametrize("data,field", [
    ({"name": ""}, "name"),
    ({"name": "A", "phones": "89161234567, +79161234567"}, "phones"),
    ({"name": "A", "email": "not-an-email"}, "email"),
    ({"name": "A", "personal_operator": "9999"}, "personal_operator"),
    ({"name": "A", "vip": "maybe"}, "vip"),
    ({"name": "A", "fields": {"nope": "1"}}, "fields"),
])
def test_validation_names_the_field(demo_db, data, field):
    with pytest.raises(ConfigError) as exc:
        clients.save(demo_db, data)
    assert exc.value.field == field
    assert clients.count(demo_db) == 0


def test_custom_fields_by_kind(db):
    clients.save_field(db, {"name": "contract", "title": "Договор", "kind": "text", "required": "1"})
    clients.save_field(db, {"name": "balance", "title": "Баланс", "kind": "number"})
    clients.save_field(db, {"name": "since", "title": "Клиент с", "kind": "date"})
    clients.save_field(db, {"name": "tariff", "title": "Тариф", "kind": "choice", "choices": "Базовый\nПремиум"})
    with pytest.raises(ConfigError):
        clients.save_field(db, {"name": "tariff", "kind": "text"})
    for bad in ({"name": "Bad Name"}, {"name": "phones"}, {"name": "x", "kind": "colour"},
                {"name": "y", "kind": "choice", "choices": ""}):
        with pytest.raises(ConfigError):
            clients.save_field(db, bad)
    ok = {"name": "A", "fields": {"contract": "Д-1", "balance": "12,50", "since": "01.02.2024", "tariff": "Премиум"}}
    c = clients.get(db, clients.save(db, ok))
    assert c["fields"] == {"contract": "Д-1", "balance": "12.50", "since": "2024-02-01", "tariff": "Премиум"}
    for field, value in (("contract", ""), ("balance", "много"), ("since", "31.02.2024"), ("tariff", "Золото")):
        with pytest.raises(ConfigError) as exc:
            clients.save(db, {"name": "B", "fields": {**ok["fields"], field: value}})
        assert exc.value.field == field
    clients.delete_field(db, "balance")
    assert "balance" not in clients.get(db, c["id"])["fields"]


def test_search_by_name_number_and_company_vip_first(demo_db):
    db = demo_db
    a = clients.save(db, {"name": "Иван Петров", "phones": "89161234567", "company": "Ромашка"})
    b = clients.save(db, {"name": "Анна Иванова", "phones": "84951112233", "vip": True})
    assert [c["id"] for c in clients.search(db, "иван")] == [b, a]
    assert [c["id"] for c in clients.search(db, "9161234567")] == [a]
    assert [c["id"] for c in clients.search(db, "8 916 123")] == [a]
    assert [c["id"] for c in clients.search(db, "РОМАШ")] == [a]
    assert clients.search(db, "%") == [] and clients.count(db, "") == 2
    assert [c["id"] for c in clients.search(db, "", limit=1, offset=1)] == [a]


def test_calls_of_reads_the_history_by_any_form_of_the_number(demo_db):
    db = demo_db
    cid = clients.save(db, {"name": "Иван", "phones": "+79161234567"})
    for uid, ani, at in (("1.1", "89161234567", "2026-01-01T10:00:00+00:00"),
                         ("1.2", "9161234567", "2026-01-02T10:00:00+00:00"),
                         ("1.3", "84950000000", "2026-01-03T10:00:00+00:00")):
        db.execute("INSERT INTO calls (uniqueid, ani, started_at, grp) VALUES (?, ?, ?, 'support')", [uid, ani, at])
    assert [c["uniqueid"] for c in clients.calls_of(db, cid)] == ["1.2", "1.1"]


CSV = ("name;phones;company;vip;tariff\r\n"
       "Иван Петров;8 916 123-45-67, +7 495 111 22 33;Ромашка;да;Премиум\r\n"
       "Анна Смирнова;+44 20 7946 0958;;нет;\r\n")


def test_import_report_all_or_nothing_and_round_trip(demo_db):
    db = demo_db
    clients.save_field(db, {"name": "tariff", "title": "Тариф", "kind": "choice", "choices": "Базовый\nПремиум"})
    p = clients.preview(db, CSV.encode("cp1251"))
    assert p.ok and p.encoding == "cp1251" and p.delimiter == ";" and len(p.rows) == 2
    clients.import_csv(db, CSV.encode("cp1251"), by="admin")
    ivan = clients.find_by_number(db, "74951112233")
    assert ivan["name"] == "Иван Петров" and ivan["vip"] and ivan["fields"] == {"tariff": "Премиум"}

    exported = clients.export_csv(db)
    assert exported.startswith(b"\xef\xbb\xbf")
    before = {c["id"]: c for c in clients.search(db)}
    p = clients.preview(db, exported)
    assert p.ok and all(r["id"] for r in p.rows)
    clients.import_csv(db, exported)
    after = {c["id"]: c for c in clients.search(db)}
    strip = lambda c: {k: v for k, v in c.items() if k not in ("updated_at", "updated_by")}  # noqa: E731
    assert {k: strip(v) for k, v in after.items()} == {k: strip(v) for k, v in before.items()}
    assert clients.export_csv(db) == exported


def test_a_bad_file_is_reported_line_by_line_and_changes_nothing(demo_db):
    db = demo_db
    clients.save(db, {"name": "Старый", "phones": "84950000000"})
    bad = ("name,phones,email\n"
           "Ок,89160000001,\n"
           "Дубль в файле,+7 916 000-00-01,\n"
           "Уже есть,84950000000,\n"
           ",89160000002,\n"
           "Почта,89160000003,не-почта\n"
           "Коротко,89160000004\n").encode()
    p = clients.preview(db, bad)
    assert [pr.line for pr in p.problems] == [3, 4, 5, 6, 7]
    assert "line 2" in p.errors[0] and "79160000001" in p.errors[0]
    assert "Старый" in p.errors[1]
    with pytest.raises(ConfigError):
        clients.import_csv(db, bad)
    assert clients.count(db) == 1
    for raw, text in ((b"", "empty"), (b"name,phones,colour\nA,1234,red\n", "unknown columns"),
                      (b"name\nA\n", "phones"), (b"\x00\x01", "binary")):
        p = clients.preview(db, raw)
        assert not p.ok and text in " ".join(p.errors), (raw, p.errors)


def test_screen_pop_template_is_checked_and_values_are_encoded(demo_db):
    db = demo_db
    assert clients.screen_pop_url(db, "support", {"ani": "1"}) is None
    clients.set_screen_pop(db, "support", "https://crm.example/card?phone={ani}&call={uniqueid}&g={group}")
    url = clients.screen_pop_url(db, "support", {"ani": "+7 916&x=1", "uniqueid": "171.5"})
    assert url == "https://crm.example/card?phone=%2B7%20916%26x%3D1&call=171.5&g=support"
    for bad in ("ftp://crm/{ani}", "javascript:alert(1)", "https://crm/{secret}", "https://{ani}/",
                "https://crm/{ani:>10}", "https://crm/{", "https://crm/ {ani}"):
        with pytest.raises(ConfigError):
            clients.set_screen_pop(db, "support", bad)
    with pytest.raises(ConfigError):
        clients.set_screen_pop(db, "nosuch", "https://crm/")
    clients.set_screen_pop(db, "support", "")
    assert clients.screen_pop_url(db, "support", {}) is None


def test_an_update_keeps_custom_fields_it_does_not_mention(db):
    clients.save_field(db, {"name": "contract", "kind": "text"})
    clients.save_field(db, {"name": "balance", "kind": "number"})
    cid = clients.save(db, {"name": "A", "fields": {"contract": "Д-1", "balance": "5"}})
    clients.save(db, {"id": cid, "fields": {"balance": "7"}})
    assert clients.get(db, cid)["fields"] == {"contract": "Д-1", "balance": "7"}
    clients.save(db, {"id": cid, "fields": {"contract": ""}})
    assert clients.get(db, cid)["fields"] == {"balance": "7"}
