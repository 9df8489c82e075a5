"""``korund user add NAME --role R`` and ``korund user list``: panel users
(appliance.users.store). The password comes from the terminal, asked twice,
or from one line of standard input."""
from __future__ import annotations

import getpass
import sys

from appliance.base import audit
from appliance.users import store as users


def add_parser(sub) -> None:
    s = sub.add_parser("user", help="panel users: 'user add NAME --role admin' (password from the "
                       "terminal or one line of standard input), 'user list'")
    s.add_argument("user_command", choices=("add", "list"))
    s.add_argument("username", nargs="?")
    s.add_argument("--role", default="admin", choices=("admin", "supervisor", "operator", "technician"))
    s.add_argument("--language", default="ru", choices=("ru", "en"))
    s.add_argument("--extension", help="the operator's extension (role operator)")
    s.set_defaults(fn=run)


def run(args, inst) -> int:
    db = inst.open_store()
    if args.user_command == "list":
        for u in users.all_users(db):
            print(f"{u.username:20} {u.role:11} {u.language} {'active' if u.active else 'disabled'}")
        return 0
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("error: the passwords do not match", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\n")
    operator_id = None
    if args.extension:
        row = db.execute("SELECT id FROM operators WHERE extension = ?", [args.extension]).fetchone()
        if not row:
            print(f"error: no operator with extension {args.extension}", file=sys.stderr)
            return 2
        operator_id = row[0]
    with db.atomic():
        user = users.create(db, args.username, password, args.role, args.language, operator_id)
        audit.record(db, "korund-cli", "user added", user.username, {"role": user.role})
    print(f"user {user.username} ({user.role}) created")
    return 0
