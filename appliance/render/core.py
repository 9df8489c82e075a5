"""asterisk.conf, modules.conf, logger.conf, manager.conf and the other small
files every instance needs."""
from __future__ import annotations

from appliance.base.instance import ASTERISK_USER, Instance, local_address
from appliance.prompts import moh
from appliance.render.config import Config

MODULE_DIR = "/usr/lib/x86_64-linux-gnu/asterisk/modules"
DATA_DIR = "/usr/share/asterisk"

# Modules an appliance without the matching hardware or service must not load.
NOLOAD = [
    "chan_iax2.so", "chan_motif.so", "res_xmpp.so", "res_hep.so", "res_hep_pjsip.so",
    "res_hep_rtcp.so", "cdr_radius.so", "cel_radius.so", "res_stir_shaken.so",
    "chan_sip.so", "chan_mgcp.so", "chan_skinny.so", "chan_unistim.so", "chan_ooh323.so",
    "res_config_ldap.so", "res_config_pgsql.so", "res_config_mysql.so", "cdr_pgsql.so",
    "cel_pgsql.so", "res_calendar.so", "res_phoneprov.so", "res_pjsip_phoneprov_provider.so",
    "chan_mobile.so", "chan_console.so", "chan_alsa.so", "chan_oss.so", "res_smdi.so",
    "res_snmp.so", "res_corosync.so", "res_prometheus.so", "cdr_tds.so", "cel_tds.so",
    "res_config_odbc.so", "cdr_odbc.so", "cel_odbc.so", "cdr_adaptive_odbc.so",
    "cel_sqlite3_custom.so", "cdr_sqlite3_custom.so", "cdr_csv.so", "cdr_beanstalkd.so",
    "cel_beanstalkd.so", "res_aeap.so", "res_speech_aeap.so", "chan_websocket.so",
    "res_ari_websockets.so", "res_pjsip_config_wizard.so", "res_http_media_cache.so",
    "pbx_lua.so", "pbx_ael.so", "app_voicemail_odbc.so", "app_voicemail_imap.so",
    "res_calendar_caldav.so", "res_calendar_exchange.so", "res_calendar_icalendar.so",
    "res_calendar_ews.so", "res_pjsip_stir_shaken.so", "func_odbc.so", "res_odbc.so",
    "res_odbc_transaction.so", "app_followme.so", "app_page.so", "res_adsi.so",
    "app_adsiprog.so", "app_getcpeid.so", "res_config_sqlite3.so",
]
# Bridged calls go through Asterisk's core, not native RTP forwarding: the far
# end then sees one continuous stream (one SSRC, sequence and timestamps) for
# the whole call. Forwarded packets of a second stream were seen to be
# dropped by the far end when an operator answered at once, leaving the
# caller in silence; recording (MixMonitor) needs core bridging anyway.
NOLOAD.append("bridge_native_rtp.so")

# Korund's AMI user's classes; which action or event needs which: at manager.conf below.
AMI_READ = ("system", "call", "agent", "user", "dialplan", "agi", "security")
AMI_WRITE = ("system", "call", "agent", "command", "originate")

# Loaded only when a span is configured in the panel (appliance/lines/store.py).
NOLOAD_WITHOUT_DAHDI = ["chan_dahdi.so", "res_timing_dahdi.so", "codec_dahdi.so"]


def asterisk_conf(inst: Instance, options: str = "") -> str:
    """asterisk.conf: the instance's own directories, Asterisk as its own user."""
    return f"""[directories]
astetcdir => {inst.etc}
astmoddir => {MODULE_DIR}
astvarlibdir => {DATA_DIR}
astdbdir => {inst.lib}
astkeydir => {inst.lib}
astdatadir => {DATA_DIR}
astagidir => {DATA_DIR}/agi-bin
astspooldir => {inst.spool}
astrundir => {inst.run}
astlogdir => {inst.log}
astsbindir => /usr/sbin

[options]
runuser = {ASTERISK_USER}
rungroup = {ASTERISK_USER}
{options}"""


def render(config: Config, inst: Instance) -> dict[str, str]:
    s = config.settings
    return {
        "asterisk.conf": asterisk_conf(inst, f"""defaultlanguage = {s.get('language', 'ru')}
documentation_language = en_US
hideconnect = yes
"""),
        "modules.conf": "[modules]\nautoload = yes\n"
        + "".join(f"noload => {m}\n" for m in NOLOAD + (
            [] if any(sp.enabled for sp in config.spans) else NOLOAD_WITHOUT_DAHDI)),
        # 'logger rotate' (sent by appliance/history/log_rotation.py when messages.log or
        # queue_log is due) renames them to NAME.<epoch>, compressed and pruned there.
        "logger.conf": """[general]
dateformat = %F %T.%3q
rotatestrategy = timestamp

[logfiles]
messages.log => notice,warning,error
console => notice,warning,error
""",
        # AMI listens on loopback only (local.address): whoever logs in steers
        # every call. Korund's user has the classes its actions and events need:
        #   write system     ModuleLoad (DAHDI apply: chan_dahdi in and out),
        #                    MixMonitor (recording on demand; its Command option),
        #                    CoreStatus, PJSIPQualify (system or reporting)
        #         call       Setvar, Getvar, Redirect, Atxfer, CancelAtxfer, Hangup,
        #                    MixMonitorMute
        #         agent      QueuePause (operators' states)
        #         command    Command (the CLI: reloads, 'queue show', 'dahdi show')
        #         originate  Originate (callback dialer, device state probes)
        #   read  system     FullyBooted, Reload (states are synced after a reload)
        #         call       Newchannel, Newstate, Hangup, DialBegin/End, Hold,
        #                    transfers, OriginateResponse (history, desktop)
        #         agent      QueueCaller*, Agent* (history, operators' states)
        #         user       UserEvent (recordings, the dialer)
        #         dialplan   VarSet, Newexten (history, callback legs)
        #         agi        AGIExec (what a call was played: the telephony tests)
        #         security   failed SIP requests (appliance/operators/sip_guard.py)
        # No config: UpdateConfig (config alone) could rewrite Asterisk's files.
        # GetConfig (system or config) stays readable through system. No log,
        # verbose, dtmf, reporting or cdr either.
        "manager.conf": f"""[general]
enabled = yes
bindaddr = {local_address(s)}
port = {s['ami.port']}
displayconnects = no
timestampevents = yes

[{s['ami.user']}]
secret = {s['ami.secret']}
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.0/255.0.0.0
read = {','.join(AMI_READ)}
write = {','.join(AMI_WRITE)}
""",
        "rtp.conf": f"""[general]
rtpstart = {s['rtp.start']}
rtpend = {s['rtp.end']}
""",
        "cdr.conf": """[general]
enable = yes
unanswered = yes
congestion = yes
batch = no
""",
        # The events process rebuilds history rows it missed (because it was
        # down) from this file, which Asterisk appends to as each call ends.
        "cdr_custom.conf": """[mappings]
korund-cdr.csv => ${CSV_QUOTE(${CDR(uniqueid)})},${CSV_QUOTE(${CDR(linkedid)})},${CSV_QUOTE(${CDR(src)})},${CSV_QUOTE(${CDR(dst)})},${CSV_QUOTE(${CDR(channel)})},${CSV_QUOTE(${CDR(dstchannel)})},${CSV_QUOTE(${CDR(start,u)})},${CSV_QUOTE(${CDR(answer,u)})},${CSV_QUOTE(${CDR(end,u)})},${CSV_QUOTE(${CDR(disposition)})},${CSV_QUOTE(${CDR(dcontext)})},${CSV_QUOTE(${CDR(korund_dnis)})},${CSV_QUOTE(${CDR(korund_group)})},${CSV_QUOTE(${CDR(korund_route)})}
""",
        # Channel events (CEL), for the call history's legs: the events
        # process rebuilds the legs of calls it missed while it was down
        # (offers, talk, transfers, who hung up) from this file
        # (appliance/history/store.py CEL_FIELDS).
        "cel.conf": """[general]
enable = yes
apps = queue,agi,dial
events = CHAN_START,ANSWER,HANGUP,APP_START,APP_END,BRIDGE_ENTER,BRIDGE_EXIT,BLINDTRANSFER,ATTENDEDTRANSFER,LINKEDID_END
""",
        "cel_custom.conf": """[mappings]
korund-cel.csv => ${CSV_QUOTE(${eventtype})},${CSV_QUOTE(${eventtime})},${CSV_QUOTE(${CALLERID(num)})},${CSV_QUOTE(${CHANNEL(exten)})},${CSV_QUOTE(${CHANNEL(context)})},${CSV_QUOTE(${CHANNEL(channame)})},${CSV_QUOTE(${CHANNEL(appname)})},${CSV_QUOTE(${CHANNEL(appdata)})},${CSV_QUOTE(${CHANNEL(uniqueid)})},${CSV_QUOTE(${CHANNEL(linkedid)})},${CSV_QUOTE(${CHANNEL(peer)})},${CSV_QUOTE(${eventextra})}
""",
        "indications.conf": """[general]
country = ru

[ru]
description = Russian Federation
ringcadence = 1000,4000
dial = 425
busy = 425/350,0/350
ring = 425/1000,0/4000
congestion = 425/175,0/175
callwaiting = 425/200,0/5000
record = 1400/400,0/15000
info = 950/330,1400/330,1800/330,0/1000

[us]
description = United States / North America
ringcadence = 2000,4000
dial = 350+440
busy = 480+620/500,0/500
ring = 440+480/2000,0/4000
congestion = 480+620/250,0/250
callwaiting = 440/300,0/10000
record = 1400/500,0/15000
info = !950/330,!1400/330,!1800/330,0
""",
        "musiconhold.conf": moh.conf(inst),   # Korund's chords (appliance/prompts/moh.py)
        "amd.conf": "[general]\n",
        "queuerules.conf": "",
        # AMI's Atxfer (the desktop's attended transfer) needs an attended
        # transfer feature code to exist.
        "features.conf": "[general]\n\n[featuremap]\natxfer => *2\n",
        "ccss.conf": "[general]\n",
        "stasis.conf": "",
        "acl.conf": "",
        "udptl.conf": "[general]\n",
    }
