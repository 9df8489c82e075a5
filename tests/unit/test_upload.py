"""appliance.base.upload, the CSV upload the data tables and the clients
share: the two-step import keeps the feature's options with the bytes, reads
them again on confirm, writes in one transaction or not at all, and a token
serves its own user once."""
from __future__ import annotations

import pytest

from appliance.base import upload
from appliance.base.errors import ConfigError


def importer(written: list):
    """A feature of one column, staged in the data tables' uploads table."""
    def read(db, raw, name, key_column, mode):
        p, reader = upload.open_csv(raw)
        if reader is not None:
            p.rows = [r for _line, r in upload.records(reader, p)]
            p.key_column = key_column or p.columns[0]
        if mode == "refuse":
            p.add(None, ConfigError("file", "the file is empty"))
        return p

    def write(db, p, by, name, key_column, mode):
        written.append((name, mode, by, p.rows))
        return len(p.rows)

    return upload.Importer("data_uploads", read, write, options=("name", "key_column", "mode"))


def test_stage_keeps_the_options_and_confirm_writes_once(db):
    written = []
    imp = importer(written)
    token, p = imp.stage(db, "id;v\r\n1;я\r\n".encode("cp1251"), "admin", "a.csv",
                         name="t", key_column="", mode="merge")
    assert token and (p.encoding, p.delimiter, p.rows) == ("cp1251", ";", [{"id": "1", "v": "я"}])
    s = imp.staged(db, token, "admin")
    assert (s.filename, s.options, s.preview.key_column) == ("a.csv", {"name": "t", "key_column": "", "mode": "merge"},
                                                             "id")
    with pytest.raises(ConfigError):
        imp.confirm(db, token, "someone-else")
    assert imp.confirm(db, token, "admin").result == 1
    assert written == [("t", "merge", "admin", [{"id": "1", "v": "я"}])]
    with pytest.raises(ConfigError, match="expired or was already imported"):
        imp.confirm(db, token, "admin")


def test_a_file_with_problems_is_neither_kept_nor_written(db):
    written = []
    imp = importer(written)
    token, p = imp.stage(db, b"id\n1\n", "admin", name="t", key_column="", mode="refuse")
    assert token is None and p.errors == ["the file is empty"]
    with pytest.raises(ConfigError, match="was not imported: the file is empty"):
        imp.run(db, b"id\n1\n", "cli", name="t", key_column="", mode="refuse")
    assert written == [] and db.execute("SELECT COUNT(*) FROM data_uploads").fetchone()[0] == 0


def test_discard_forgets_only_the_users_own_upload(db):
    imp = importer([])
    token, _p = imp.stage(db, b"id\n1\n", "admin", name="t", key_column="", mode="replace")
    imp.discard(db, token, "someone-else")
    assert imp.staged(db, token, "admin").preview.rows == [{"id": "1"}]
    imp.discard(db, token, "admin")
    with pytest.raises(ConfigError):
        imp.staged(db, token, "admin")
