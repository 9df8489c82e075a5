"""The documentation stays in step with the code.

- Every ``korund <command> [<subcommand>]`` shown in README.md or docs/*.md
  (fenced code blocks and inline code) names a command the parser of
  korund/cli.py really has; options written before or after it must exist
  on the parser that would read them. ``korund-hw …`` is checked as
  ``korund hw …``.
- Every relative link in those files points to a file or folder inside the
  repository (and, for a Markdown page, to a heading it has).
"""
from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from korund.cli import parser as korund_parser

TOP = Path(__file__).resolve().parents[2]
DOCS = [TOP / "README.md", *sorted((TOP / "docs").glob("*.md"))]

FENCE = re.compile(r"^(```|~~~)[^\n]*\n(.*?)^\1[ \t]*$", re.M | re.S)
INLINE = re.compile(r"(`+)(.+?)\1", re.S)
# "korund" as a command word: at the start, after white space or "(", or at
# the end of a path to a binary (".../bin/korund"); "python -m korund.cli"
# too. Not /var/lib/korund/..., korund-inbound, korund.service and the like.
COMMAND = re.compile(r"(?:(?<![^\s(])|(?<=bin/))korund(?P<hw>-hw)?(?:\.cli)?(?=\s)")
WORD = re.compile(r"[a-z][a-z0-9-]*(?:\|[a-z][a-z0-9-]*)*")
STOP = {"|", "||", "&&", ";", ">", ">>", "2>&1", "<", "…", "...", "\\"}
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def split_markdown(text: str) -> tuple[list[str], str]:
    """(the fenced code blocks' bodies, the text outside them)."""
    blocks = [m.group(2) for m in FENCE.finditer(text)]
    return blocks, FENCE.sub("\n", text)


def inline_spans(prose: str) -> list[str]:
    """Inline code spans (a span never runs over an empty line)."""
    return [m.group(2) for m in INLINE.finditer(prose) if "\n\n" not in m.group(2)]


def snippets(text: str) -> list[str]:
    """Each line of every code block, and every inline code span on one line."""
    blocks, prose = split_markdown(text)
    out = [line for block in blocks for line in block.splitlines()]
    out += [" ".join(span.split()) for span in inline_spans(prose)]
    return out


def commands_in(snippet: str) -> list[list[str]]:
    """The argument lists following each ``korund`` in *snippet*, with
    optional parts (``[...]``) dropped, ``\\|`` read as ``|`` and shell
    comments cut off; ``korund-hw`` becomes ``korund hw``."""
    found = []
    for m in COMMAND.finditer(snippet):
        rest = snippet[m.end():].replace("\\|", "|")
        while True:
            shorter = re.sub(r"\[[^\[\]]*\]", " ", rest)
            if shorter == rest:
                break
            rest = shorter
        try:
            tokens = shlex.split(rest, comments=True)
        except ValueError:  # an unbalanced quote in prose: take the words as they are
            tokens = rest.split()
        args = []
        for token in tokens:
            if token in STOP or token.startswith("$(") or token.endswith(")") and "(" not in token:
                break
            args.append(token)
        found.append((["hw"] if m.group("hw") else []) + args)
    return found


def branches(parser: argparse.ArgumentParser):
    """The subcommand slot of *parser*: ("sub", {name: subparser}) for a
    subparsers action, ("choice", choices) for a first positional argument
    with fixed choices, else None."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return "sub", action.choices
    positionals = [a for a in parser._actions if not a.option_strings]
    if positionals and positionals[0].choices:
        return "choice", {c: None for c in positionals[0].choices}
    return None


def check_option(parser: argparse.ArgumentParser, token: str) -> tuple[str | None, bool]:
    """(a problem or None, whether the next token is this option's value)."""
    name, eq, _ = token.partition("=")
    action = parser._option_string_actions.get(name)
    if action is None:
        return f"no option {name} on '{parser.prog}'", False
    return None, action.nargs != 0 and not eq


def check(args: list[str], top: argparse.ArgumentParser) -> list[str]:
    """What is wrong with ``korund <args>`` against the parser: unknown
    commands or subcommands, unknown options. Placeholders (NAME, <x>, N)
    end the check of the command path."""
    problems: list[str] = []
    parser, path, depth, i = top, [], 0, 0
    while i < len(args):
        token = args[i]
        if token.startswith("-") and len(token) > 1 and not token[1:].isdigit():
            if parser is not None:
                problem, takes_value = check_option(parser, token)
                if problem:
                    problems.append(problem)
                i += 2 if takes_value else 1
                continue
            i += 1
            continue
        if depth >= 2 or parser is None:
            i += 1
            continue
        slot = branches(parser)
        if slot is None:           # the first positional is a value: no more commands
            depth = 2
            i += 1
            continue
        kind, choices = slot
        if not WORD.fullmatch(token):   # a placeholder or a value: stop looking for commands
            depth = 2
            i += 1
            continue
        names = token.split("|")
        missing = [n for n in names if n not in choices]
        for n in missing:
            problems.append(f"'korund {' '.join(path + [n])}': no such "
                            f"{'command' if not path else 'subcommand'} "
                            f"(the parser has: {', '.join(sorted(choices))})")
        path.append(token)
        depth += 1
        if missing:
            break
        if kind == "sub":
            parser = choices[names[0]] if len(names) == 1 else None
        elif depth == 1 and len(names) > 1:
            parser = None
        i += 1
    return problems


@pytest.fixture(scope="module")
def top() -> argparse.ArgumentParser:
    return korund_parser()


def documented_commands(doc: Path) -> list[list[str]]:
    return [args for snippet in snippets(doc.read_text(encoding="utf-8"))
            for args in commands_in(snippet)]


def test_the_collector_finds_the_documented_commands():
    found = {tuple(args[:2]) for doc in DOCS for args in documented_commands(doc)}
    assert len(found) > 40, found
    for expected in [("scenario", "import"), ("recordings", "policy"), ("hw", "spans"),
                     ("dahdi", "loop-demo"), ("-i", "/var/lib/korund/appliance")]:
        assert expected in found, expected


def test_the_checker_catches_what_the_parser_lacks(top):
    assert check(["apply"], top) == []
    assert check(["-i", "/x", "user", "add", "admin", "--role", "admin"], top) == []
    assert check(["hw", "--root", "tests/fixtures/hw/te410p_e1", "spans"], top) == []
    assert check(["agent", "login|logout|ready", "EXT"], top) == []
    assert check(["no-such-command"], top)
    assert check(["scenario", "delete", "main"], top)
    assert check(["hw", "nothing"], top)
    assert check(["calls", "--no-such-option"], top)
    assert check(["prompt", "say", "x", "--language", "ru", "--colour", "red"], top)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(TOP)))
def test_documented_korund_commands_exist(doc, top):
    problems = []
    for args in documented_commands(doc):
        for problem in check(args, top):
            problems.append(f"korund {' '.join(args)}\n    -> {problem}")
    assert not problems, f"{doc.relative_to(TOP)}:\n" + "\n".join(problems)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    _, prose = split_markdown(page.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    out = set()
    for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", prose, re.M):
        base = slug(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def links_in(text: str) -> list[str]:
    _, prose = split_markdown(text)
    prose = INLINE.sub(" ", prose)
    return [m.group(1) for m in LINK.finditer(prose)]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(TOP)))
def test_relative_links_point_into_the_repository(doc):
    problems = []
    for target in links_in(doc.read_text(encoding="utf-8")):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):   # http:, https:, mailto: ...
            continue
        path_part, _, anchor = target.partition("#")
        dest = (doc.parent / path_part).resolve() if path_part else doc
        if TOP != dest and TOP not in dest.parents:
            problems.append(f"{target}: outside the repository")
            continue
        if not dest.exists():
            problems.append(f"{target}: no such file")
            continue
        if anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{target}: {dest.relative_to(TOP)} has no heading #{anchor}")
    assert not problems, f"{doc.relative_to(TOP)}:\n" + "\n".join(problems)
