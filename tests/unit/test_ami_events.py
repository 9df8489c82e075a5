from appliance.base import ami


class FakeEvent:
    def __init__(self, headers, data):
        self.headers = headers
        self.data = data


def test_headers_after_an_injected_line_break_are_recovered():
    e = FakeEvent({"Event": "Newchannel", "Channel": "PJSIP/pstn-1"},
                  "CallerIDNum: 555\n123\nContext: korund-inbound\nUniqueid: 1.0\nLinkedid: 1.0")
    h = ami.event_headers(e)
    assert h["Context"] == "korund-inbound"
    assert h["Uniqueid"] == h["Linkedid"] == "1.0"
    assert h["CallerIDNum"] == "555\n123"


def test_cli_commands_with_line_breaks_are_refused():
    import pytest
    with pytest.raises(ami.AmiError):
        ami.command(None, "dialplan show x\r\nAction: Originate")
