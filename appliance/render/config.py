"""The snapshot of the store that Asterisk's configuration is rendered from:
each feature hands in its own rows (operators and groups, lines and trunks,
recording policies), so rendering never reaches into a feature's tables."""
from __future__ import annotations

from dataclasses import dataclass, field

from appliance.base import store
from appliance.lines import store as spans, trunks as sip_trunks
from appliance.lines.trunks import Trunk
from appliance.operators import devices, store as operators_store
from appliance.operators.store import Group, Operator
from appliance.recordings import store as recordings


@dataclass
class Config:
    """Everything the Asterisk configuration is rendered from."""
    settings: dict[str, str]
    trunks: list[Trunk]
    operators: list[Operator]
    groups: list[Group]
    # the operators' skills, {extension: {skill: level}} (appliance.routing.store)
    skills: dict[str, dict[str, int]] = field(default_factory=dict)
    # E1/T1 spans and analog ports (appliance.lines.store.Span)
    spans: list = field(default_factory=list)
    # recording policies (appliance.recordings.store.policies)
    recording_policies: list = field(default_factory=list)
    # the extensions whose phone is a secure phone: TLS and SRTP (appliance.operators.devices)
    secure_phones: set[str] = field(default_factory=set)

    @property
    def default_group(self) -> Group | None:
        return next((g for g in self.groups if g.is_default), None)


def load(db) -> Config:
    operators, groups, skills = operators_store.load_all(db)
    return Config(store.settings(db), sip_trunks.load_all(db), operators, groups, skills,
                  spans.load_all(db), recordings.policies(db), devices.secure_phones(db))
