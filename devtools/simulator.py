"""The PSTN simulator: a second real Asterisk that plays the carrier on the
far end of the trunk and the operators' phones.

The demo (``make demo-call``) and the telephony tests use it. It is not part
of the appliance's own configuration, so it is configured here, from a small
JSON file in its directory, not from the store.

Phones are told how to behave through Asterisk's database
(``simphone/<extension>`` = answer | noanswer | busy) and answer with a test
tone (``simtone/<extension>``, default 1000 Hz) that the caller's side
records, so tests can tell which phone the caller talked to.
"""
from __future__ import annotations

import base64
import json
import secrets
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from appliance.apply import write_set
from appliance.base import ami
from appliance.base.instance import Instance
from appliance.render.core import NOLOAD, NOLOAD_WITHOUT_DAHDI, asterisk_conf

DEFAULT_BASE = "/var/lib/korund/simulator"


@dataclass
class SimSettings:
    address: str = "127.0.0.2"
    sip_port: int = 5060
    ami_port: int = 5038
    appliance_address: str = "127.0.0.1"
    appliance_port: int = 5060
    rtp_start: int = 30000   # clear of the appliance's 10000-19999
    rtp_end: int = 31999
    ami_secret: str = ""

    def ami_settings(self) -> dict[str, str]:
        return {"net.address": self.address, "local.address": self.address, "ami.port": str(self.ami_port),
                "ami.user": "sim", "ami.secret": self.ami_secret}


def settings_path(inst: Instance) -> Path:
    return inst.base / "simulator.json"


def load(inst: Instance) -> SimSettings:
    return SimSettings(**json.loads(settings_path(inst).read_text()))


def init(inst: Instance, sim: SimSettings) -> SimSettings:
    inst.create_dirs()
    if not sim.ami_secret:
        sim.ami_secret = secrets.token_urlsafe(24)
    settings_path(inst).write_text(json.dumps(sim.__dict__, indent=2))
    settings_path(inst).chmod(0o600)
    write_set(inst.etc, render(inst, sim))
    return sim


PHONE_BODY = """ same => n,Set(MODE=${DB(simphone/${PHONE})})
 same => n,Set(TONE=${DB(simtone/${PHONE})})
 same => n,UserEvent(SimPhoneRang,Phone: ${PHONE},CallerNum: ${CALLERID(num)},CallerName: ${CALLERID(name)},Mode: ${MODE})
 same => n,GotoIf($["${MODE}" = "busy"]?busy)
 same => n,GotoIf($["${MODE}" = "noanswer"]?noanswer)
 same => n,GotoIf($["${MODE}" = "congestion"]?congestion)
 same => n,GotoIf($["${MODE}" = "reject"]?reject)
 same => n,GotoIf($["${MODE}" = "invalid"]?invalid)
 same => n,Answer()
 same => n,UserEvent(SimPhoneAnswered,Phone: ${PHONE},CallerNum: ${CALLERID(num)})
 same => n,Playtones(${IF($["${TONE}" = ""]?1000:${TONE})})
 same => n,Wait(600)
 same => n,Hangup()
 same => n(busy),Busy(10)
 same => n,Hangup()
 same => n(noanswer),Ringing()
 same => n,Wait(600)
 same => n,Hangup()
 same => n(congestion),Hangup(34)
 same => n(reject),Hangup(21)
 same => n(invalid),Hangup(1)
"""


def render(inst: Instance, sim: SimSettings) -> dict[str, str]:
    return {
        # The caller only listens; silence frames on its side keep MixMonitor's
        # two directions in step, so the recording holds all it heard.
        "asterisk.conf": asterisk_conf(inst, "transmit_silence = yes\n"),
        "modules.conf": "[modules]\nautoload = yes\n"
        + "".join(f"noload => {m}\n" for m in NOLOAD + NOLOAD_WITHOUT_DAHDI + ["app_queue.so"]),
        "logger.conf": "[logfiles]\nmessages.log => notice,warning,error\n",
        "manager.conf": f"""[general]
enabled = yes
bindaddr = {sim.address}
port = {sim.ami_port}
timestampevents = yes

[sim]
secret = {sim.ami_secret}
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.0/255.0.0.0
read = system,call,user,dtmf,dialplan
write = system,call,user,command,originate
""",
        "rtp.conf": f"[general]\nrtpstart = {sim.rtp_start}\nrtpend = {sim.rtp_end}\n",
        "indications.conf": "[general]\ncountry = ru\n\n[ru]\ndescription = Russia\n"
                            "ringcadence = 1000,4000\nring = 425/1000,0/4000\nbusy = 425/350,0/350\n"
                            "congestion = 425/175,0/175\ndial = 425\n",
        "cdr.conf": "[general]\nenable = no\n",
        "pjsip.conf": f"""[transport-udp]
type = transport
protocol = udp
bind = {sim.address}:{sim.sip_port}

[appliance]
type = endpoint
transport = transport-udp
context = sim-phones
disallow = all
allow = alaw,ulaw
dtmf_mode = rfc4733
direct_media = no
aors = appliance

[appliance]
type = aor
contact = sip:{sim.appliance_address}:{sim.appliance_port}

[appliance]
type = identify
endpoint = appliance
match = {sim.appliance_address}
""",
        "extensions.conf": """[general]
static = yes
writeprotect = yes

[sim-out]
exten => dial,1,Set(CALLERID(num)=${BASE64_DECODE(${SIM_ANI_B64})})
 same => n,Set(CALLERID(name)=${BASE64_DECODE(${SIM_NAME_B64})})
 same => n,Dial(PJSIP/${SIM_DNIS}@appliance,120)
 same => n,UserEvent(SimCallerFailed,Call: ${SIM_CALL},DialStatus: ${DIALSTATUS})

[sim-caller]
exten => talk,1,UserEvent(SimCallerAnswered,Call: ${SIM_CALL})
 same => n,MixMonitor(${SIM_RECORD})
 same => n,ExecIf($["${SIM_TONE}" != ""]?Playtones(${FILTER(0-9,${SIM_TONE})}))
 same => n,GotoIf($["${SIM_DTMF}" = ""]?hold)
 same => n,Wait(${SIM_DTMF_DELAY})
 same => n,SendDTMF(${SIM_DTMF},250)
 same => n(hold),Wait(${SIM_HOLD})
 same => n,UserEvent(SimCallerDone,Call: ${SIM_CALL})
 same => n,Hangup()
exten => h,1,UserEvent(SimCallerHangup,Call: ${SIM_CALL},Cause: ${HANGUPCAUSE})

[sim-phones]
""" + "".join(f"exten => {pattern},1,Set(PHONE=${{EXTEN}})\n" + PHONE_BODY for pattern in ("_X.", "_+X.")) + """exten => h,1,UserEvent(SimPhoneHangup,Phone: ${PHONE})
""",
    }


def start(inst: Instance, timeout: float = 30) -> None:
    if running(inst):
        return
    subprocess.run(["/usr/sbin/asterisk", "-C", str(inst.asterisk_conf)], check=True)
    deadline = time.monotonic() + timeout
    while not running(inst):
        if time.monotonic() > deadline:
            raise TimeoutError("the simulator's Asterisk did not start")
        time.sleep(0.2)
    cli(inst, "core waitfullybooted")


def cli(inst: Instance, command: str) -> str:
    return subprocess.run(["/usr/sbin/asterisk", "-C", str(inst.asterisk_conf), "-rx", command],
                          capture_output=True, text=True, timeout=30).stdout


def running(inst: Instance) -> bool:
    return (inst.run / "asterisk.ctl").exists() and subprocess.run(
        ["/usr/sbin/asterisk", "-C", str(inst.asterisk_conf), "-rx", "core show version"],
        capture_output=True, timeout=10).returncode == 0


def stop(inst: Instance) -> None:
    from appliance.base.supervisor import kill_leftovers
    if running(inst):
        cli(inst, "core stop now")
        deadline = time.monotonic() + 10
        while running(inst) and time.monotonic() < deadline:
            time.sleep(0.2)
    kill_leftovers(inst)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode()


def originate(mgr, ani: str, dnis: str, name: str = "", hold: float = 10,
              dtmf: str = "", dtmf_delay: float = 1, record_dir: str = "/tmp",
              tone: int | None = None) -> str:
    """Place a call from the carrier to the appliance; return its call id.

    What the caller hears is recorded to ``<record_dir>/<call id>.wav``.
    *ani* and *name* go out exactly as given (base64 carries them past AMI's
    own parsing), so tests can send hostile caller IDs.
    """
    call_id = uuid.uuid4().hex[:12]
    variables = {
        "__SIM_CALL": call_id, "__SIM_ANI_B64": _b64(ani), "__SIM_NAME_B64": _b64(name),
        "__SIM_DNIS": dnis, "SIM_HOLD": str(hold), "SIM_DTMF": dtmf,
        "SIM_DTMF_DELAY": str(dtmf_delay), "SIM_RECORD": f"{record_dir}/{call_id}.wav",
        "SIM_TONE": str(int(tone)) if tone else "",   # the caller speaks: a steady tone
    }
    action = {"Action": "Originate", "Channel": "Local/dial@sim-out/n", "Context": "sim-caller",
              "Exten": "talk", "Priority": "1", "Async": "true", "Timeout": "60000",
              "Variable": [f"{k}={v}" for k, v in variables.items()]}
    resp = mgr.send_action(action)
    if resp.get_header("Response") != "Success":
        raise ami.AmiError(f"originate failed: {resp.get_header('Message')}")
    return call_id


def set_phone(mgr, extension: str, mode: str = "answer", tone: int | None = None) -> None:
    # congestion: 503 (cause 34), reject: 403 (cause 21), invalid: 404 (cause 1)
    if mode not in ("answer", "noanswer", "busy", "congestion", "reject", "invalid"):
        raise ValueError(f"unknown phone mode {mode!r}")
    mgr.send_action({"Action": "DBPut", "Family": "simphone", "Key": extension, "Val": mode})
    if tone:
        mgr.send_action({"Action": "DBPut", "Family": "simtone", "Key": extension, "Val": str(tone)})
