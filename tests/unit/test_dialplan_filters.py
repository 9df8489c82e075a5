"""No value from outside reaches a dialplan application's argument unfiltered.

Every line of every generated extensions.conf (the dialplan and the
recording contexts, rendered from configurations that switch every part
on) is read the way Asterisk reads it: each ``${...}`` and ``$[...]`` in an
application's arguments -- a Goto or GotoIf target, a Dial string, an AGI,
Queue or Playback argument, a Set value -- must be clean:

- the outside itself is never clean: the dialled ``EXTEN``, ``CALLERID()``
  and any function not listed as safe, and every channel variable that
  Python code sets (the FastAGI scripts, the callback dialer's originate,
  AMI Setvar), found by reading that code;
- it becomes clean only through ``FILTER(<literal characters>, ...)`` or
  ``LEN(...)``;
- a variable only the dialplan sets is clean when every value it is ever
  set to is clean.

A new line that hands such a value on unfiltered makes this test fail;
so do the attacks at the end, written into a rendered dialplan on purpose.
"""
from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

from appliance.base import dialplan_names as dn, store
from appliance.operators import store as operators
from appliance.recordings import store as recordings
from appliance.render import config as render_config, dialplan, render_all
from devtools import dahdi_loop

TOP = Path(__file__).resolve().parents[2]
FIXTURES = TOP / "tests" / "fixtures" / "hw"

# Set by Asterisk itself from its own state, never from what a caller sends.
BUILTIN_CLEAN = {"UNIQUEID", "QUEUESTATUS", "DIALSTATUS", "HANGUPCAUSE", "EPOCH",
                 # a subroutine's arguments: every Gosub the dialplan makes passes literals (checked below)
                 *(f"ARG{i}" for i in range(1, 10))}
# Functions whose result is safe when their arguments are.
SAFE_FUNCTIONS = {"IF", "DIALPLAN_EXISTS", "QUEUE_EXISTS", "RAND", "STAT", "STRFTIME", "DEVICE_STATE",
                  "REGEX", "GROUP_COUNT"}
# CHANNEL() fields Asterisk fills from its own configuration and state
# (pjsip: the transport's facts, such as the local address a call came in on).
SAFE_CHANNEL_FIELDS = {"channeltype", "endpoint", "language", "dahdi_type", "dahdi_span", "dahdi_channel",
                       "linkedid", "uniqueid", "pjsip"}
SANITISERS = {"FILTER", "LEN"}
CHANNEL_DRIVER_VARIABLES = frozenset({"MFCR2_CATEGORY"})
FILTER_CLASS = re.compile(r"[A-Za-z0-9 ._+*#-]+")

LINE = re.compile(r"^(?:exten\s*=>\s*(?P<ext>[^,]+),\s*|\s*same\s*=>\s*)(?P<prio>[^,]+),"
                  r"(?P<app>[A-Za-z_]+)\((?P<args>.*)\)\s*$")


# --- reading Asterisk's substitutions ------------------------------------------------

def _close(text: str, i: int, open_ch: str, close_ch: str) -> int:
    """Index of the bracket closing the one opened just before *i*."""
    depth = 1
    while i < len(text):
        if text[i] == open_ch:
            depth += 1
        elif text[i] == close_ch:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"unbalanced {open_ch}{close_ch} in {text!r}")


def substitutions(text: str) -> list[tuple[str, str]]:
    """The top-level ('var', inner) and ('expr', inner) of *text*."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("${", i):
            end = _close(text, i + 2, "{", "}")
            out.append(("var", text[i + 2:end]))
            i = end + 1
        elif text.startswith("$[", i):
            end = _close(text, i + 2, "[", "]")
            out.append(("expr", text[i + 2:end]))
            i = end + 1
        else:
            i += 1
    return out


def split_args(text: str) -> list[str]:
    """A function's arguments, split at commas outside brackets."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return out


def problems(text: str, clean: set[str], prefixes: set[str]) -> list[str]:
    """What in *text* is not clean (empty: all of it is)."""
    found = []
    for kind, inner in substitutions(text):
        if kind == "expr":
            found += problems(inner, clean, prefixes)
            continue
        call = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\((.*)\)(:-?[0-9]+(:-?[0-9]+)?)?", inner, re.DOTALL)
        if call:
            name, args = call.group(1), split_args(call.group(2))
            if name == "FILTER":
                if not FILTER_CLASS.fullmatch(args[0]):
                    found.append(f"FILTER with a class that is not literal: {inner}")
            elif name == "LEN":
                pass
            elif name == "LOCAL":
                if f"LOCAL({args[0]})" not in clean:
                    found.append(f"${{{inner}}}")
            elif name == "CHANNEL":
                if args[0] not in SAFE_CHANNEL_FIELDS:
                    found.append(f"${{{inner}}}")
            elif name in SAFE_FUNCTIONS:
                for arg in args:
                    found += problems(arg, clean, prefixes)
            else:
                found.append(f"${{{inner}}} (a function not known to be safe)")
            continue
        plain = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(:-?[0-9]+(:-?[0-9]+)?)?", inner)
        if plain:
            if plain.group(1) not in clean:
                found.append(f"${{{inner}}}")
            continue
        dynamic = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(\$\{.*\})", inner, re.DOTALL)
        if dynamic and dynamic.group(1) in prefixes:
            found += problems(dynamic.group(2), clean, prefixes)
            continue
        found.append(f"${{{inner}}} (not understood)")
    return found


# --- the dialplan's lines -------------------------------------------------------------

def app_calls(conf: str) -> list[tuple[str, str, str, str]]:
    """(context, line, application, arguments) of every line that runs an
    application; ExecIf's inner application comes as a call of its own."""
    calls, context = [], ""
    for raw in conf.splitlines():
        line = raw.rstrip()
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        if line.startswith("["):
            context = line.strip("[]")
            continue
        if context in ("general", "globals"):
            continue
        m = LINE.match(line)
        assert m, f"[{context}] a line this test cannot read: {line!r}"
        app, args = m.group("app"), m.group("args")
        calls.append((context, line, app, args))
        if app == "ExecIf":
            _cond, _, inner = args.partition("?")
            inner_call = re.fullmatch(r"([A-Za-z_]+)\((.*)\)", inner.strip())
            assert inner_call, line
            calls.append((context, line, inner_call.group(1), inner_call.group(2)))
    return calls


def globals_of(conf: str) -> dict[str, str]:
    section = conf.split("[globals]\n", 1)[1].split("\n[", 1)[0]
    return dict(line.split(" = ", 1) for line in section.splitlines() if " = " in line)


def assignments(conf: str) -> dict[str, list[str]]:
    """{variable: [every value the dialplan sets it to]} (inheritance marks
    dropped; LOCAL(x) kept as its own name)."""
    out: dict[str, list[str]] = {}
    for name, value in globals_of(conf).items():
        out.setdefault(name, []).append(value)
    for _ctx, _line, app, args in app_calls(conf):
        if app != "Set":
            continue
        name, _, value = args.partition("=")
        name = name.lstrip("_")
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*|LOCAL\([a-z0-9_]+\)", name):
            out.setdefault(name, []).append(value)
    return out


# --- what Python sets on channels -----------------------------------------------------

def _names_in(node) -> set[str]:
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id == "dn" \
                and hasattr(dn, sub.attr):
            names.add(getattr(dn, sub.attr))
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            m = re.match(r"_*([A-Z][A-Z0-9_]+)(=|$)", sub.value)
            if m:
                names.add(m.group(1))
    return names


@functools.cache
def external_variables() -> frozenset[str]:
    """Channel variables Korund's Python code sets (FastAGI SET VARIABLE,
    an AMI Setvar's or an originate's variables): never trusted in the dialplan."""
    found: set[str] = set()
    for pkg in ("appliance", "web", "korund", "devtools"):
        for path in (TOP / pkg).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "set_variable" and node.args:
                    found |= _names_in(node.args[0])
                elif isinstance(node, ast.Dict):
                    for key, value in zip(node.keys, node.values):
                        if isinstance(key, ast.Constant) and key.value == "Variable":
                            found |= _names_in(value)
                elif isinstance(node, ast.FunctionDef) and any(
                        isinstance(c, ast.Constant) and c.value == "Originate" for c in ast.walk(node)):
                    # the variables an originate hands its channel, built in a dict first
                    for d in (n for n in ast.walk(node) if isinstance(n, ast.Dict)):
                        for key in d.keys:
                            if key is not None and not isinstance(key, ast.Constant):
                                found |= _names_in(key)
    # and what a channel driver sets from the line: chan_dahdi's MFC/R2 caller category
    # (the dialplan also sets it, filtered, for a call out: that does not make the inbound one clean)
    return frozenset(n.lstrip("_") for n in found) | CHANNEL_DRIVER_VARIABLES


def clean_variables(conf: str, external: set[str]) -> tuple[set[str], set[str]]:
    """(clean variable names, clean dynamic-name prefixes) of *conf*: the
    largest set of dialplan-only variables whose every value is clean."""
    assigned = assignments(conf)
    clean = BUILTIN_CLEAN | {n for n in assigned if n not in external}
    while True:
        # a name built at run time (the operators' FXS ports: [globals] KORUND_DEV_<ext>)
        prefixes = {p for p in (dn.VAR_DEVICE_PREFIX,)
                    if not any(n.startswith(p) for n in external | (set(assigned) - clean))}
        dirty = {n for n in clean - BUILTIN_CLEAN
                 if any(problems(v, clean, prefixes) for v in assigned.get(n, []))}
        if not dirty:
            return clean, prefixes
        clean -= dirty


def unfiltered(conf: str) -> list[str]:
    """Every application argument that uses a value from outside unfiltered."""
    clean, prefixes = clean_variables(conf, external_variables())
    found = []
    for context, line, app, args in app_calls(conf):
        if app == "ExecIf":
            args = args.partition("?")[0]     # the inner application is checked as its own call
        for problem in problems(args, clean, prefixes):
            found.append(f"[{context}] {line.strip()}: {problem}")
    return found


# --- the configurations -----------------------------------------------------------------

@pytest.fixture(autouse=True)
def no_board(monkeypatch):
    monkeypatch.setenv("KORUND_HW_ROOT", str(FIXTURES / "empty"))


def everything_on(db) -> None:
    """The demo plus every part of the dialplan: an overflow to a group and
    one to a scenario, a skill, an operator on an FXS port, a loop's test
    carrier span, recording policies of every scope, a presented number."""
    operators.add_group(db, "sales", "Sales")
    operators.set_group_acd(db, "support", {"max_wait": 45, "overflow_kind": "group", "overflow_target": "sales"})
    db.execute("UPDATE groups SET overflow_kind = 'scenario', overflow_target = 'night' WHERE name = 'sales'")
    dahdi_loop.store(db, "analog")
    operators.add_operator(db, "1005", "Vera Analog", device="DAHDI/49")
    operators.add_member(db, "support", "1005")
    for scope, target in (("group", "support"), ("number", "100"), ("callbacks", "")):
        recordings.set_policy(db, "admin", scope, target, "sampled", 50)
    store.set_setting(db, "dialer.caller_id", "74951234567")


@pytest.fixture(params=["demo", "everything", "no trunk", "r2 loop"])
def conf(request, demo_db, inst) -> str:
    if request.param == "everything":
        everything_on(demo_db)
    elif request.param == "no trunk":
        demo_db.execute("UPDATE trunks SET enabled = 0")
    elif request.param == "r2 loop":
        dahdi_loop.store(demo_db, "r2")
    return render_all(render_config.load(demo_db), inst)["extensions.conf"]


def test_python_code_that_sets_channel_variables_is_found():
    external = external_variables()
    for var in (dn.VAR_GROUP, dn.VAR_TARGET_NUMBER, dn.VAR_TARGET_OPERATOR, dn.VAR_AGI_DONE,
                dn.VAR_CALLBACK_NUMBER, dn.VAR_ROUTE_SOURCE, dn.VAR_OUT_TRIES, dn.VAR_OUT_WHERE):
        assert var in external


def test_every_line_filters_what_comes_from_outside(conf):
    assert app_calls(conf), "nothing was read"
    assert unfiltered(conf) == []


def asterisk_filter_set(allowed: str) -> set[str]:
    """The characters FILTER(<allowed>, ...) keeps, read the way Asterisk's
    func_strings.c reads them: a character followed by '-' starts a range,
    and a range with nothing after the '-' is that one character."""
    out, i = set(), 0
    while i < len(allowed):
        c1 = allowed[i]
        if i + 1 < len(allowed) and allowed[i + 1] == "-":
            c2 = allowed[i + 2] if i + 2 < len(allowed) else c1
            out |= {chr(c) for c in range(ord(c1), ord(c2) + 1)}
            i += 3
        else:
            out.add(c1)
            i += 1
    return out


def test_each_filter_keeps_the_characters_it_names(conf):
    """'a-z0-9_-' reads as a regular expression's class, but Asterisk drops
    the last '-' (a range from '_' to nothing): group and route names lost
    their hyphens. Each class must keep what the same class keeps in Python."""
    classes = set(re.findall(r"FILTER\(([^,$]+),", conf))
    assert classes
    for allowed in classes:
        python = {chr(c) for c in range(32, 127) if re.fullmatch(f"[{allowed}]", chr(c))}
        assert asterisk_filter_set(allowed) == python, allowed


def test_subroutines_get_only_literal_arguments(conf):
    for _ctx, line, app, args in app_calls(conf):
        if app == "Gosub":
            call_args = re.search(r"\((.*)\)$", args)
            assert call_args is None or "$" not in call_args.group(1), line


def test_operators_dial_only_by_digit_patterns(conf):
    ops = conf.split(f"[{dn.CTX_OPERATORS}]\n", 1)[1].split("\n[", 1)[0]
    patterns = re.findall(r"^exten => ([^,]+),", ops, re.MULTILINE)
    assert "_XX" in patterns and "_" + "X" * 20 in patterns and "_+" + "X" * 11 in patterns
    for pattern in patterns:
        # feature codes and digits: no '.', '!' or class that lets other characters in
        assert re.fullmatch(r"\*5[1-4]|_\*53X{1,2}|_\+?X+", pattern), pattern
    # the filtered copy must be as long as what was dialled, or the call is refused
    assert f"GotoIf($[${{LEN(${{{dn.VAR_DIALLED}}})}} = ${{LEN(${{EXTEN}})}}]?{dn.CTX_OPERATORS_DIAL},s,1)" in ops


def test_an_outside_number_goes_out_only_through_the_routes(conf):
    dial = conf.split(f"[{dn.CTX_OPERATORS_DIAL}]\n", 1)[1].split("\n[", 1)[0]
    assert f"Gosub({dn.CTX_OUTBOUND},s,1(" in dial and dial.index("Gosub(") < dial.index("(refused),Hangup(21)")
    route = conf.split(f"[{dn.CTX_ROUTE}]\n", 1)[1].split("\n[", 1)[0]
    outside = route.split("exten => outside,1,", 1)[1].split("exten => end", 1)[0]
    assert f"$[${{LEN(${{{dialplan.OUTSIDE_NUMBER}}})}} = ${{LEN(${{{dn.VAR_TARGET_NUMBER}}})}}]?dial" in outside
    # nothing dials a trunk but the subroutine, and it only after the AGI's plan
    assert "@pstn" not in conf and "DAHDI/g" not in conf
    sub = conf.split(f"[{dn.CTX_OUTBOUND}]\n", 1)[1].split("\n[", 1)[0]
    assert sub.index("AGI(agi://") < sub.index(" same => n,Dial(")


# --- the checker catches what it must ------------------------------------------------------

ATTACKS = [
    # the injection this test is for: the dialled extension straight into a Goto
    ("korund-operators", ("exten => _XX!,1,GotoIf(${DIALPLAN_EXISTS(korund-operators-local,${EXTEN},1)}"
                         "?korund-operators-local,${EXTEN},1)")),
    ("korund-route", " same => n,Dial(PJSIP/${KORUND_TARGET_NUMBER}@pstn,60)"),
    ("korund-route", " same => n,Goto(${CALLERID(num)},1)"),
    ("korund-route", " same => n,AGI(agi://127.0.0.1:4573/inbound,${CALLERID(name)})"),
    ("korund-route", " same => n,Queue(${KORUND_GROUP},t)"),
    ("korund-route", " same => n,GotoIf($[\"${KORUND_AGI_DONE}\" = \"1\"]?s,1)"),
    ("korund-route", " same => n,Playback(${PJSIP_HEADER(read,X-Prompt)})"),
    ("korund-route", " same => n,Set(KORUND_X=${FILTER(${EXTEN},${EXTEN})})"),
    # laundering through a variable only the dialplan sets still counts
    ("korund-route", " same => n,Set(KORUND_LAUNDERED=${EXTEN})\n same => n,Dial(PJSIP/${KORUND_LAUNDERED}@pstn)"),
    ("korund-inbound", " same => n,ExecIf($[1]?Goto(${MFCR2_CATEGORY},s,1))"),
]


@pytest.mark.parametrize("context, lines", ATTACKS)
def test_an_unfiltered_use_is_caught(demo_db, inst, context, lines):
    conf = render_all(render_config.load(demo_db), inst)["extensions.conf"]
    assert unfiltered(conf) == []
    head = f"[{context}]\n"
    first = conf.index(head) + len(head)
    second = conf.index("\n", conf.index("exten =>", first))   # after the context's first line
    attacked = conf[:second + 1] + lines + "\n" + conf[second + 1:]
    assert unfiltered(attacked), lines


def test_filtered_values_pass(demo_db, inst):
    conf = render_all(render_config.load(demo_db), inst)["extensions.conf"]
    head = f"[{dn.CTX_ROUTE}]\n"
    second = conf.index("\n", conf.index(head) + len(head))
    fine = (" same => n,Set(KORUND_FINE=${FILTER(0-9,${EXTEN})})\n"
            " same => n,GotoIf($[${LEN(${KORUND_FINE})} = ${LEN(${EXTEN})}]?q-${KORUND_FINE},1)\n")
    assert unfiltered(conf[:second + 1] + fine + conf[second + 1:]) == []

