"""The ``inbound`` script: greet the caller and choose the group.

(The scenario engine of the IVR issue replaces the fixed greeting.)
"""
from __future__ import annotations

from .. import dialplan_names as dn
from .. import prompts, routing
from .registry import CallContext, script


@script(dn.AGI_INBOUND)
def inbound(agi, ctx: CallContext) -> None:
    agi.answer()
    language = agi.get_variable(dn.VAR_LANGUAGE) or ctx.settings.get("language", "ru")
    agi.stream_file(str(prompts.prompt_path(ctx.sounds, language, "welcome")))
    ani = agi.get_variable(dn.VAR_ANI)
    dnis = agi.get_variable(dn.VAR_DNIS)
    group = routing.choose_group(ctx.db, ani=ani, dnis=dnis)
    agi.set_variable("__" + dn.VAR_GROUP, group or "")
    agi.set_variable("__" + dn.VAR_ROUTE_SOURCE, "agi")
    agi.set_variable(dn.VAR_AGI_DONE, "1")
