"""SIP trunks: the carrier's address for a PSTN line that arrives over SIP
instead of a DAHDI span (rendered into pjsip.conf)."""
from __future__ import annotations

from dataclasses import dataclass

from appliance.base.errors import GROUP_NAME, ConfigError, check_host, check_match, check_port
from appliance.lines.store import trunk_groups_using

TRUNK_NAME = GROUP_NAME


@dataclass
class Trunk:
    id: int
    name: str
    kind: str
    host: str | None
    port: int | None
    enabled: bool



def load_all(db) -> list[Trunk]:
    return [Trunk(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in db.execute(
        "SELECT id, name, kind, host, port, enabled FROM trunks ORDER BY name")]


def add_sip_trunk(db, name: str, host: str, port=5060) -> int:
    name = check_match(TRUNK_NAME, name, "name", "trunk name (a-z, 0-9, _ and -)")
    host = check_host(host)
    port = check_port(port)
    if db.execute("SELECT 1 FROM trunks WHERE name = ?", [name]).fetchone():
        raise ConfigError("name", "a trunk named '{name}' already exists", name=name)
    return db.execute("INSERT INTO trunks (name, kind, host, port) VALUES (?, 'sip', ?, ?)",
                      [name, host, port]).lastrowid


def update_sip_trunk(db, name: str, host: str, port) -> None:
    host, port = check_host(host), check_port(port)
    if not db.execute("UPDATE trunks SET host = ?, port = ? WHERE name = ? AND kind = 'sip'",
                      [host, port, name]).rowcount:
        raise ConfigError("name", "no SIP trunk named '{name}'", name=name)


def delete_trunk(db, name: str) -> None:
    using = trunk_groups_using(db, name)
    if using:
        raise ConfigError("name", "trunk {name} carries calls out for the trunk groups {groups}: "
                          "take it out of them first", name=name, groups=", ".join(using))
    if not db.execute("DELETE FROM trunks WHERE name = ?", [name]).rowcount:
        raise ConfigError("name", "no trunk named '{name}'", name=name)
