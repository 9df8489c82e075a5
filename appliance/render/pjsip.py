"""pjsip.conf: the SIP transport, the PSTN trunk(s) and the operators' phones."""
from __future__ import annotations

from appliance.base import dialplan_names as dn
from appliance.render.config import Config

CODECS = "alaw,ulaw"


def endpoint(name: str, context: str) -> str:
    """What every endpoint has: transport, codecs, RFC 4733 DTMF, media via us."""
    return f"""[{name}]
type = endpoint
transport = transport-udp
context = {context}
disallow = all
allow = {CODECS}
dtmf_mode = rfc4733
direct_media = no
rtp_symmetric = yes
"""


def render(config: Config) -> str:
    s = config.settings
    out = [f"""[transport-udp]
type = transport
protocol = udp
bind = {s['net.address']}:{s['sip.port']}
"""]
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
        out.append(endpoint(op.extension, dn.CTX_OPERATORS) + f"""force_rport = yes
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
