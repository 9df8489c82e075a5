"""Order a callback (F3). The caller picks when: key 1 = as soon as possible,
keys 2..9 = the configured slots in order ("14:00-16:00", "tomorrow
09:00-12:00", see appliance.callbacks.store). Then the number: the caller's own is
read back (1 = right, 2 = enter another); an entered number is read back the
same way. The order is stored for the group; 'fail' after the retries.

The order is taken only if the outbound policy allows its number
(appliance.outbound): a refused one -- international, premium-rate, not the
caller's own when the policy says so, or over the caller's cap of orders --
is not stored; the caller hears why (the built-in prompts in REFUSAL_PROMPTS)
and the node goes its 'fail' way."""
import re

from appliance.callbacks import store as callbacks
from appliance.outbound import policy as outbound
from appliance.scenarios.nodes.base import NodeType, int_in, prompts_of, register

# The built-in prompt (appliance.prompts.builtin) a caller hears for each
# reason the outbound policy gives; any other reason: REFUSED.
REFUSED = "callback-refused"
REFUSAL_PROMPTS = {"own-number": "callback-own-number", "open-orders": "callback-limit",
                   "day-orders": "callback-limit"}

GROUP = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
ASAP_KEY = "1"


def slot_keys(node) -> dict[str, str]:
    return {str(i + 2): spec for i, spec in enumerate(node.get("slots") or [])}


def validate(node):
    problems = [] if prompts_of(node) else ["at least one prompt"]
    if not GROUP.fullmatch(str(node.get("group") or "")):
        problems.append("'group' must name a group")
    slots = node.get("slots") or []
    if not isinstance(slots, list):
        problems.append("'slots' must be a list")
        slots = []
    if len(slots) > callbacks.MAX_SLOTS:
        problems.append(f"at most {callbacks.MAX_SLOTS} slots (keys 2 to 9)")
    problems += [p for p in map(callbacks.slot_problem, slots) if p]
    for key in ("confirm_prompts", "enter_prompts"):
        if not prompts_of(node, key):
            problems.append(f"'{key}' is required")
    problems += int_in(node, "timeout", 1, 30, 5) + int_in(node, "retries", 0, 9, 2)
    problems += int_in(node, "min_digits", 3, 20, 5) + int_in(node, "max_digits", 3, 20, 15)
    if node.get("min_digits", 5) > node.get("max_digits", 15):
        problems.append("'min_digits' is more than 'max_digits'")
    return problems


def _ask(node, io, key):
    return io.play(prompts_of(node, key), interruptible=True) or io.wait_key(node.get("timeout", 5))


def _wrong(node, io, attempt):
    if attempt < node.get("retries", 2) and prompts_of(node, "invalid_prompts"):
        io.play(prompts_of(node, "invalid_prompts"), interruptible=False)


def _choose_slot(node, io):
    slots = slot_keys(node)
    for attempt in range(node.get("retries", 2) + 1):
        key = _ask(node, io, "prompts")
        if key == ASAP_KEY:
            return "asap"
        if key in slots:
            return slots[key]
        _wrong(node, io, attempt)
    return None


def _choose_number(node, io, ani):
    lo, hi = node.get("min_digits", 5), node.get("max_digits", 15)
    own = re.sub(r"[^0-9]", "", ani or "")
    number = own if lo <= len(own) <= hi else None
    misses = 0
    for _ in range(4 * (node.get("retries", 2) + 2)):
        if number is None:
            digits = io.read_digits(prompts_of(node, "enter_prompts"), hi, node.get("timeout", 5) + 5, "#")
            digits = re.sub(r"[^0-9]", "", digits or "")
            if lo <= len(digits) <= hi:
                number = digits
                continue
        else:
            if prompts_of(node, "number_prompts"):
                io.play(prompts_of(node, "number_prompts"), interruptible=False)
            io.say(number, "digits")
            key = _ask(node, io, "confirm_prompts")
            if key == "1":
                return number
            if key == "2":
                number = None
                continue
        _wrong(node, io, misses)
        misses += 1
        if misses > node.get("retries", 2):
            return None
    return None


def run(node, io, session):
    slot = _choose_slot(node, io)
    if slot is None:
        return "fail"
    number = _choose_number(node, io, session.get("ani"))
    if number is None:
        return "fail"
    try:
        order = io.store_callback(node["group"], number, session.get("ani"), None if slot == "asap" else slot)
    except outbound.Refused as exc:
        session.set("callback_refused", exc.decision.reason)
        io.play([REFUSAL_PROMPTS.get(exc.decision.reason, REFUSED)], interruptible=False)
        return "fail"
    session.set("callback_number", number)
    session.set("callback_slot", slot)
    if order is not None:
        session.set("callback_id", order)
    if prompts_of(node, "done_prompts"):
        io.play(prompts_of(node, "done_prompts"), interruptible=False)
    return "next"


FIELDS = (
    {"name": "prompts", "kind": "prompts", "label": "Prompts offering the times (1 = as soon as possible)"},
    {"name": "slots", "kind": "list", "label": "Time slots for keys 2 to 9 (14:00-16:00, tomorrow 09:00-12:00)"},
    {"name": "group", "kind": "group", "label": "Group"},
    {"name": "number_prompts", "kind": "prompts", "label": "Prompts before the number is read back"},
    {"name": "confirm_prompts", "kind": "prompts", "label": "Prompts after it (1 = right, 2 = another number)"},
    {"name": "enter_prompts", "kind": "prompts", "label": "Prompts asking for another number"},
    {"name": "min_digits", "kind": "int", "min": 3, "max": 20, "default": 5, "label": "At least digits"},
    {"name": "max_digits", "kind": "int", "min": 3, "max": 20, "default": 15, "label": "At most digits"},
    {"name": "done_prompts", "kind": "prompts", "label": "Prompts when the order is taken"},
    {"name": "invalid_prompts", "kind": "prompts", "label": "Prompts after a wrong input"},
    {"name": "timeout", "kind": "int", "min": 1, "max": 30, "default": 5, "label": "Wait for a key, s"},
    {"name": "retries", "kind": "int", "min": 0, "max": 9, "default": 2, "label": "Retries"},
)

register(NodeType("callback", lambda n: ["next", "fail"], validate, run, waits=True, fields=FIELDS))
