"""``korund prompt list|say|add|rm``: the prompt library (appliance.prompts.store)."""
from __future__ import annotations

import sys

from appliance.base import audit
from appliance.base.errors import ConfigError
from appliance.prompts import builtin as prompts, store as prompt_library


def add_parser(sub) -> None:
    s = sub.add_parser("prompt", help="the prompt library: list, say NAME --language ru --text '...', "
                       "add NAME --language en FILE (WAV/MP3/OGG), rm NAME [--language en]")
    s.set_defaults(fn=run)
    actions = s.add_subparsers(dest="prompt_command", required=True)
    actions.add_parser("list", help="prompts, their languages, fallbacks and users")
    for action, help_text in (("say", "speak --text with espeak-ng"), ("add", "convert a WAV/MP3/OGG file"),
                              ("rm", "delete a prompt (or one --language of it)")):
        a = actions.add_parser(action, help=help_text)
        a.add_argument("name")
        if action == "add":
            a.add_argument("file")
        if action == "say":
            a.add_argument("--text", required=True)
        a.add_argument("--language", choices=prompts.LANGUAGES,
                       help="default ru" if action != "rm" else "default: every language")


def run(args, inst) -> int:
    db = inst.open_store()
    try:
        if args.prompt_command == "list":
            for p in prompt_library.all_prompts(db, inst.sounds):
                langs = ", ".join(f"{v['language']} {v['duration'] or 0:.1f}s" for v in p["variants"])
                fallback = "".join(f"; {m} falls back to {o}" for m, o in p["fallback"].items())
                used = f"; used by {', '.join(p['used_by'])}" if p["used_by"] else ""
                print(f"{p['name']:24} {p['source']:9} {langs}{fallback}{used}")
            return 0
        language = args.language or prompts.LANGUAGES[0]
        with db.atomic():
            if args.prompt_command == "say":
                prompt_library.say(db, inst.sounds, args.name, language, args.text, "korund-cli")
                audit.record(db, "korund-cli", "prompt spoken", args.name,
                             {"language": language, "text": args.text})
                print(f"prompt {args.name} ({language}) spoken")
            elif args.prompt_command == "add":
                with open(args.file, "rb") as f:
                    data = f.read(prompt_library.MAX_BYTES + 1)
                prompt_library.add_file(db, inst.sounds, args.name, language, data, args.file,
                                        "korund-cli")
                audit.record(db, "korund-cli", "prompt uploaded", args.name,
                             {"language": language, "file": args.file})
                print(f"prompt {args.name} ({language}) added from {args.file}")
            else:
                gone = prompt_library.delete(db, inst.sounds, args.name, args.language)
                audit.record(db, "korund-cli", "prompt deleted", args.name, {"languages": gone})
                print(f"prompt {args.name} deleted ({', '.join(gone)})")
    except (ConfigError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
