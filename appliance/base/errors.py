"""Refusing a bad value: ``ConfigError`` and the validators every feature
shares, so that each refusal names the field and reads the same in the panel,
the API and the ``korund`` command."""
from __future__ import annotations

import ipaddress
import re


class ConfigError(ValueError):
    """A configuration value was refused; ``field`` names the culprit.

    ``message`` is a template (``{name}`` placeholders filled from
    ``params``) so the panel can translate it before filling it in.
    """

    def __init__(self, field: str, message: str, **params):
        self.field = field
        self.message = message
        self.params = params
        super().__init__(f"{field}: {self.text}")

    @property
    def text(self) -> str:
        return self.message.format(**self.params)


GROUP_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
TRUNK_NAME = GROUP_NAME
EXTENSION = re.compile(r"^[0-9]{2,8}$")
HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
DISPLAY_NAME = re.compile(r"^[^\x00-\x1f\"\\;,\[\]]{1,64}$")


def check_host(value: str, field: str = "host") -> str:
    value = (value or "").strip()
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if not HOSTNAME.fullmatch(value):
        raise ConfigError(field, "'{value}' is not an IP address or host name", value=value)
    return value


def check_port(value, field: str = "port") -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise ConfigError(field, "'{value}' is not a port number", value=value) from None
    if not 1 <= port <= 65535:
        raise ConfigError(field, "{port} is outside 1-65535", port=port)
    return port


def check_match(pattern, value, field: str, what: str) -> str:
    value = (value or "").strip()
    if not pattern.fullmatch(value):
        raise ConfigError(field, "'{value}' is not a valid {what}", value=value, what=what)
    return value
