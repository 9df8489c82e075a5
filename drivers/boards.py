"""PCI identities of the DAHDI boards Korund knows (data only).

Every ID below comes from a public source, never a guess:
  [T] dahdi-tools xpp/perl_modules/Dahdi/Hardware/PCI.pm (asterisk/dahdi-tools),
      the table dahdi_hardware itself uses, built from the drivers' pci_device_id
      tables;
  [O] OpenVox's copy of the same file (openvox-company/dahdi-linux-complete-3.0.0)
      which adds the OpenVox D-series, A24xx and Digium B43x/B23x entries;
  [A] opvxa1200/base.c's wctdm_pci_tbl (vendor e159, device 0001, subsystem
      vendor 9100/9519/95d9/9500/9532/8519/9559/9599 = "OpenVox A1200P/A800P").

Keys follow dahdi-tools' look-up order: "vvvv:dddd/ssss:ssss", then
"vvvv:dddd/ssss" (subsystem vendor only), then "vvvv:dddd".

Fields: model, DAHDI driver, kind (E1/T1, analog, BRI), spans (digital ports;
None = depends on the variant, read from DAHDI), ports (analog module slots),
echo canceller: "hardware" (on the board), "optional hardware" (a VPM/EC
module may be fitted; software otherwise), "software" (DAHDI's echocan).
Not listed because no public ID table was found for them: OpenVox A400P and
B100P; they show up as "unsupported" with their IDs.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Model:
    model: str
    driver: str
    kind: str            # "E1/T1", "analog", "BRI"
    spans: int | None
    ports: int | None
    echo: str
    vendor: str


def _m(model, driver, kind, spans, ports, echo, vendor):
    return Model(model, driver, kind, spans, ports, echo, vendor)


DIGIUM, OPENVOX, SANGOMA = "Digium/Sangoma", "OpenVox", "Sangoma"
OPT, SW, HW = "optional hardware", "software", "hardware"

MODELS: dict[str, Model] = {
    # wct4xxp: TE1xx/TE2xx/TE4xx/TE8xx [T]
    "10ee:0314": _m("TE410P/TE405P (1st Gen)", "wct4xxp", "E1/T1", 4, None, OPT, DIGIUM),
    "d161:1420": _m("TE420 (5th Gen)", "wct4xxp", "E1/T1", 4, None, OPT, DIGIUM),
    "d161:1410": _m("TE410P (5th Gen)", "wct4xxp", "E1/T1", 4, None, OPT, DIGIUM),
    "d161:1405": _m("TE405P (5th Gen)", "wct4xxp", "E1/T1", 4, None, OPT, DIGIUM),
    "d161:0420/0004": _m("TE420 (4th Gen)", "wct4xxp", "E1/T1", 4, None, OPT, DIGIUM),
    "d161:0410/0004": _m("TE410P (4th Gen)", "wct4xxp", "E1/T1", 4, None, OPT, DIGIUM),
    "d161:0405/0004": _m("TE405P (4th Gen)", "wct4xxp", "E1/T1", 4, None, OPT, DIGIUM),
    "d161:0410/0003": _m("TE410P (3rd Gen)", "wct4xxp", "E1/T1", 4, None, OPT, DIGIUM),
    "d161:0405/0003": _m("TE405P (3rd Gen)", "wct4xxp", "E1/T1", 4, None, OPT, DIGIUM),
    "d161:0410": _m("TE410P (2nd Gen)", "wct4xxp", "E1/T1", 4, None, OPT, DIGIUM),
    "d161:0405": _m("TE405P (2nd Gen)", "wct4xxp", "E1/T1", 4, None, OPT, DIGIUM),
    "d161:1220": _m("TE220 (5th Gen)", "wct4xxp", "E1/T1", 2, None, OPT, DIGIUM),
    "d161:1205": _m("TE205P (5th Gen)", "wct4xxp", "E1/T1", 2, None, OPT, DIGIUM),
    "d161:1210": _m("TE210P (5th Gen)", "wct4xxp", "E1/T1", 2, None, OPT, DIGIUM),
    "d161:0220/0004": _m("TE220 (4th Gen)", "wct4xxp", "E1/T1", 2, None, OPT, DIGIUM),
    "d161:0205/0004": _m("TE205P (4th Gen)", "wct4xxp", "E1/T1", 2, None, OPT, DIGIUM),
    "d161:0210/0004": _m("TE210P (4th Gen)", "wct4xxp", "E1/T1", 2, None, OPT, DIGIUM),
    "d161:0205/0003": _m("TE205P (3rd Gen)", "wct4xxp", "E1/T1", 2, None, OPT, DIGIUM),
    "d161:0210/0003": _m("TE210P (3rd Gen)", "wct4xxp", "E1/T1", 2, None, OPT, DIGIUM),
    "d161:0205": _m("TE205P", "wct4xxp", "E1/T1", 2, None, OPT, DIGIUM),
    "d161:0210": _m("TE210P", "wct4xxp", "E1/T1", 2, None, OPT, DIGIUM),
    "d161:1820": _m("TE820 (5th Gen)", "wct4xxp", "E1/T1", 8, None, OPT, DIGIUM),
    # single-span E1/T1 [T]
    "e159:0001/71fe": _m("TE110P", "wcte11xp", "E1/T1", 1, None, SW, DIGIUM),
    "e159:0001/79fe": _m("TE110P", "wcte11xp", "E1/T1", 1, None, SW, DIGIUM),
    "e159:0001/795e": _m("TE110P", "wcte11xp", "E1/T1", 1, None, SW, DIGIUM),
    "e159:0001/79de": _m("TE110P", "wcte11xp", "E1/T1", 1, None, SW, DIGIUM),
    "e159:0001/797e": _m("TE110P", "wcte11xp", "E1/T1", 1, None, SW, DIGIUM),
    "d161:0120": _m("TE12xP", "wcte12xp", "E1/T1", 1, None, OPT, DIGIUM),
    "d161:8000": _m("TE121", "wcte12xp", "E1/T1", 1, None, OPT, DIGIUM),
    "d161:8001": _m("TE122", "wcte12xp", "E1/T1", 1, None, OPT, DIGIUM),
    "d161:800a": _m("TE131/TE133", "wcte13xp", "E1/T1", 1, None, OPT, DIGIUM),
    "d161:800b": _m("TE132/TE134", "wcte13xp", "E1/T1", 1, None, OPT, DIGIUM),
    "d161:800e": _m("TE435/TE235", "wcte43x", "E1/T1", None, None, OPT, DIGIUM),
    "d161:8013": _m("TE436/TE236", "wcte43x", "E1/T1", None, None, OPT, DIGIUM),
    # analog: TDM400P (wctdm), TDM/AEX (wctdm24xxp), A4/A8 (wcaxx) [T]
    "e159:0001/b100": _m("TDM400P REV E/F", "wctdm", "analog", None, 4, SW, DIGIUM),
    "e159:0001/b1d9": _m("TDM400P REV I", "wctdm", "analog", None, 4, SW, DIGIUM),
    "e159:0001/b118": _m("TDM400P REV I", "wctdm", "analog", None, 4, SW, DIGIUM),
    "e159:0001/b119": _m("TDM400P REV I", "wctdm", "analog", None, 4, SW, DIGIUM),
    "e159:0001/a9fd": _m("TDM400P REV H", "wctdm", "analog", None, 4, SW, DIGIUM),
    "e159:0001/a8fd": _m("TDM400P REV H", "wctdm", "analog", None, 4, SW, DIGIUM),
    "e159:0001/a800": _m("TDM400P REV H", "wctdm", "analog", None, 4, SW, DIGIUM),
    "e159:0001/a801": _m("TDM400P REV H", "wctdm", "analog", None, 4, SW, DIGIUM),
    "e159:0001/a908": _m("TDM400P REV H", "wctdm", "analog", None, 4, SW, DIGIUM),
    "e159:0001/a901": _m("TDM400P REV H", "wctdm", "analog", None, 4, SW, DIGIUM),
    "d161:2400": _m("TDM2400P", "wctdm24xxp", "analog", None, 24, OPT, DIGIUM),
    "d161:0800": _m("TDM800P", "wctdm24xxp", "analog", None, 8, OPT, DIGIUM),
    "d161:8002": _m("AEX800", "wctdm24xxp", "analog", None, 8, OPT, DIGIUM),
    "d161:8003": _m("AEX2400", "wctdm24xxp", "analog", None, 24, OPT, DIGIUM),
    "d161:8005": _m("TDM410P", "wctdm24xxp", "analog", None, 4, OPT, DIGIUM),
    "d161:8006": _m("AEX410P", "wctdm24xxp", "analog", None, 4, OPT, DIGIUM),
    "d161:800c": _m("A8A", "wcaxx", "analog", None, 8, OPT, DIGIUM),
    "d161:800d": _m("A8B", "wcaxx", "analog", None, 8, OPT, DIGIUM),
    "d161:800f": _m("A4A", "wcaxx", "analog", None, 4, OPT, DIGIUM),
    "d161:8010": _m("A4B", "wcaxx", "analog", None, 4, OPT, DIGIUM),
    # BRI [T][O]
    "d161:b410": _m("B410P", "wcb4xxp", "BRI", 4, None, HW, DIGIUM),
    "d161:8014": _m("B433", "wcb4xxp", "BRI", 4, None, OPT, DIGIUM),
    "d161:8015": _m("B434", "wcb4xxp", "BRI", 4, None, OPT, DIGIUM),
    "d161:8016": _m("B233", "wcb4xxp", "BRI", 2, None, OPT, DIGIUM),
    "d161:8017": _m("B234", "wcb4xxp", "BRI", 2, None, OPT, DIGIUM),
    "1397:08b4/1397:e884": _m("B200P", "wcb4xxp", "BRI", 2, None, SW, OPENVOX),
    "1397:08b4/1397:e888": _m("B400P", "wcb4xxp", "BRI", 4, None, SW, OPENVOX),
    "1397:16b8/1397:e998": _m("B800P", "wcb4xxp", "BRI", 8, None, SW, OPENVOX),
    # OpenVox E1/T1 [O]
    "1b74:0115": _m("D115P/D115E", "opvxd115", "E1/T1", 1, None, OPT, OPENVOX),
    "1b74:d130": _m("D130P/D130E", "opvxd115", "E1/T1", 1, None, OPT, OPENVOX),
    "1b74:d210": _m("D210E", "wct4xxp", "E1/T1", 2, None, OPT, OPENVOX),
    "1b74:d230": _m("D230E", "wct4xxp", "E1/T1", 2, None, OPT, OPENVOX),
    "1b74:d410": _m("D410E (2nd Gen)", "wct4xxp", "E1/T1", 4, None, OPT, OPENVOX),
    "1b74:1420": _m("D420P (2nd Gen)", "wct4xxp", "E1/T1", 4, None, OPT, OPENVOX),
    "1b74:d430": _m("D430E (3rd Gen)", "wct4xxp", "E1/T1", 4, None, OPT, OPENVOX),
    # OpenVox analog [A][O]
    "e159:0001/9100": _m("A1200P/A800P", "opvxa1200", "analog", None, 12, SW, OPENVOX),
    "e159:0001/9519": _m("A1200P/A800P", "opvxa1200", "analog", None, 12, SW, OPENVOX),
    "e159:0001/95d9": _m("A1200P/A800P", "opvxa1200", "analog", None, 12, SW, OPENVOX),
    "e159:0001/9500": _m("A1200P/A800P", "opvxa1200", "analog", None, 12, SW, OPENVOX),
    "e159:0001/9532": _m("A1200P/A800P", "opvxa1200", "analog", None, 12, SW, OPENVOX),
    "e159:0001/8519": _m("A1200P/A800P", "opvxa1200", "analog", None, 12, SW, OPENVOX),
    "e159:0001/9559": _m("A1200P/A800P", "opvxa1200", "analog", None, 12, SW, OPENVOX),
    "e159:0001/9599": _m("A1200P/A800P", "opvxa1200", "analog", None, 12, SW, OPENVOX),
    "e159:0001/9500:0003": _m("A800P", "opvxa1200", "analog", None, 8, SW, OPENVOX),
    "1b74:0810": _m("A810P", "opvxa24xx", "analog", None, 8, OPT, OPENVOX),
    "1b74:1610": _m("A1610P", "opvxa24xx", "analog", None, 16, OPT, OPENVOX),
    "1b74:2410": _m("A2410P", "opvxa24xx", "analog", None, 24, OPT, OPENVOX),
}

# Vendors whose unknown PCI devices are still worth listing as "unsupported"
# telephony boards (from the same tables): Digium, OpenVox, Cologne Chip,
# Sangoma, Rhino, Tiger Jet (the e159 bridge many analog boards use).
TELEPHONY_VENDORS = {"d161": "Digium", "1b74": "OpenVox", "1397": "Cologne Chip",
                     "1923": "Sangoma", "0b0b": "Rhino", "e159": "Tiger Jet"}
# PCI class 0x0204 = ISDN controller.
TELEPHONY_CLASSES = {"0204"}


def _hex4(value: str | None) -> str:
    value = (value or "").strip().lower()
    if value.startswith("0x"):
        value = value[2:]
    return value.zfill(4)[-4:] if value else ""


def lookup(vendor: str, device: str, subvendor: str = "", subdevice: str = "") -> Model | None:
    """The model for these IDs ("0xd161" or "d161" forms), most specific key first."""
    v, d, sv, sd = (_hex4(x) for x in (vendor, device, subvendor, subdevice))
    for key in (f"{v}:{d}/{sv}:{sd}", f"{v}:{d}/{sv}", f"{v}:{d}"):
        if key in MODELS:
            return MODELS[key]
    return None
