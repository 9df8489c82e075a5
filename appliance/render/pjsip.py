"""pjsip.conf: the SIP transports, the PSTN trunk(s) and the operators' phones;
the SIP guard's ACL (acl.conf) and the secure phones' dialplan check."""
from __future__ import annotations

import ipaddress

from appliance.base import dialplan_names as dn
from appliance.base.instance import Instance
from appliance.operators import sip_guard, sip_tls
from appliance.render.config import Config

CODECS = "alaw,ulaw"
TLS_PORT = "5061"
# The global ACL every SIP request passes first (res_pjsip_acl); it refers
# to the SIP guard's named ACL in acl.conf.
GUARD_SECTION = "korund-sip-guard"


def bind_address(settings: dict[str, str]) -> str:
    """Where SIP listens: sip.address when set, else the instance's address."""
    return settings.get("sip.address") or settings["net.address"]


def tls_port(settings: dict[str, str]) -> str:
    return settings.get("sip.tls_port") or TLS_PORT


def endpoint(name: str, context: str, transport: str = "transport-udp") -> str:
    """What every endpoint has: transport, codecs, RFC 4733 DTMF, media via us."""
    return f"""[{name}]
type = endpoint
transport = {transport}
context = {context}
disallow = all
allow = {CODECS}
dtmf_mode = rfc4733
direct_media = no
rtp_symmetric = yes
"""


def transports(config: Config, inst: Instance | None) -> str:
    s = config.settings
    out = f"""[transport-udp]
type = transport
protocol = udp
bind = {bind_address(s)}:{s['sip.port']}
"""
    if inst is not None and sip_tls.available(inst.base):
        cert, key = sip_tls.paths(inst.base)
        # Secure phones (and any phone that wants it) register and call over TLS.
        out += f"""
[transport-tls]
type = transport
protocol = tls
bind = {bind_address(s)}:{tls_port(s)}
cert_file = {cert}
priv_key_file = {key}
method = tlsv1_2
"""
    return out


def render(config: Config, inst: Instance | None = None) -> str:
    out = [f"""[{GUARD_SECTION}]
type = acl
acl = {sip_guard.ACL_NAME}
""", transports(config, inst)]
    for t in config.trunks:
        if t.kind != "sip" or not t.enabled:
            continue
        # An IP-authenticated trunk, as PSTN carriers hand them out.
        out.append(endpoint(t.name, dn.CTX_INBOUND) + f"""trust_id_inbound = no
send_pai = no
aors = {t.name}

[{t.name}]
type = aor
contact = sip:{t.host}:{t.port}

[{t.name}]
type = identify
endpoint = {t.name}
match = {t.host}
""")
    for op in config.operators:
        if not op.enabled:
            continue
        contact = f"contact = {op.contact}\n" if op.contact else "max_contacts = 1\nremove_existing = yes\n"
        if op.extension in config.secure_phones:
            # Signalling over TLS, media over SRTP with keys in the SDP
            # (SDES), and nothing else: a plain RTP offer is refused.
            head = endpoint(op.extension, dn.CTX_SECURE_OPERATORS, "transport-tls") + """media_encryption = sdes
media_encryption_optimistic = no
"""
        else:
            head = endpoint(op.extension, dn.CTX_OPERATORS)
        out.append(head + f"""force_rport = yes
rewrite_contact = yes
callerid = "{op.name}" <{op.extension}>
auth = {op.extension}-auth
aors = {op.extension}

[{op.extension}-auth]
type = auth
auth_type = userpass
username = {op.extension}
password = {op.sip_secret}

[{op.extension}]
type = aor
{contact}""")
    return "\n".join(out)


def acl_conf(config: Config) -> str:
    """The SIP guard's named ACL: the appliance's own address is permitted
    (so the ACL is never empty), the banned addresses come from the guard's
    file, which ``korund apply`` leaves alone (sip_guard.BANS_FILE)."""
    own = config.settings["net.address"]
    bits = 32 if ipaddress.ip_address(own).version == 4 else 128
    return f"""
[{sip_guard.ACL_NAME}]
permit = {own}/{bits}
#tryinclude {sip_guard.BANS_FILE}
"""


def dialplan(config: Config) -> str:
    """A secure phone's calls go on only when they came over the TLS
    transport (the port they arrived on, which the phone cannot forge);
    a call over plain UDP is rejected before anything answers it. The
    number dialled goes on only if it is digits, * # +: its filtered copy
    (as long as what was dialled) goes on, never the raw extension
    (tests/unit/test_dialplan_filters.py)."""
    port = tls_port(config.settings)
    dialled = "KORUND_TLS_DIALLED"
    return f"""
[{dn.CTX_SECURE_OPERATORS}]
exten => _[0-9*#+]!,1,Set({dialled}=${{FILTER(0-9*#+,${{EXTEN}})}})
 same => n,GotoIf($[${{LEN(${{{dialled}}})}} != ${{LEN(${{EXTEN}})}}]?refuse)
 same => n,GotoIf(${{REGEX(":{port}$" ${{CHANNEL(pjsip,local_addr)}})}}?tls)
 same => n(refuse),Hangup(21)
 same => n(tls),Goto({dn.CTX_OPERATORS},${{{dialled}}},1)
"""
