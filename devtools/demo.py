"""The demo configuration `make run` starts with: a SIP trunk standing in for
the E1 (with a trunk group and the default outbound routes over it), and two
operators whose phones the PSTN simulator plays."""
from __future__ import annotations

from appliance.base import store
from appliance.clients import webhooks
from appliance.lines import trunks as sip_trunks
from appliance.operators import store as operators
from appliance.outbound import routes


def seed(db, carrier_host: str = "127.0.0.2", carrier_port: int = 5060) -> bool:
    """Fill an empty store with the demo; leave a configured one alone."""
    if db.execute("SELECT COUNT(*) FROM trunks").fetchone()[0]:
        return False
    with db.atomic():
        sip_trunks.add_sip_trunk(db, "pstn", carrier_host, carrier_port)
        # everything dials out through the carrier: a trunk group and the default routes
        routes.save_trunk_group(db, {"name": "pstn", "kind": "sip", "members": ["pstn"]}, "demo")
        routes.add_defaults(db, ["pstn"], "demo")
        operators.add_group(db, "support", "Support", is_default=True)
        for ext, name in (("1001", "Anna Ivanova"), ("1002", "Boris Petrov")):
            operators.add_operator(db, ext, name, contact=f"sip:{ext}@{carrier_host}:{carrier_port}")
            operators.add_member(db, "support", ext)
        # development only: a CRM webhook receiver on this machine's loopback (appliance.clients.webhooks)
        store.set_setting(db, webhooks.ALLOW_LOOPBACK_KEY, "1")
    return True


# The demo IVR on number 200: what a newcomer opens in the scenario editor and
# calls with `make demo-ivr-call`. Prompts are spoken by espeak-ng at init.
DEMO_PROMPTS = {
    "demo-menu": {
        "ru": "Чтобы узнать баланс, нажмите 1. Чтобы оставить сообщение, нажмите 2. "
              "Чтобы заказать обратный звонок, нажмите 3. Чтобы поговорить с оператором, нажмите 0.",
        "en": "For your balance, press 1. To leave a message, press 2. "
              "To order a call back, press 3. To speak to an operator, press 0.",
    },
    "demo-account": {"ru": "Введите номер счёта и нажмите решётку.",
                     "en": "Enter your account number, then press hash."},
    "demo-balance": {"ru": "Баланс вашего счёта, рублей:", "en": "Your balance, in roubles, is"},
    "demo-message": {"ru": "Оставьте сообщение после сигнала. Чтобы закончить, нажмите решётку.",
                     "en": "Leave a message after the tone. Press hash when you are done."},
    "demo-thanks": {"ru": "Спасибо! До свидания.", "en": "Thank you! Goodbye."},
    "demo-slots": {"ru": "Перезвонить как можно скорее — нажмите 1. Сегодня с четырнадцати до шестнадцати — "
                         "нажмите 2. Завтра с девяти до двенадцати — нажмите 3.",
                   "en": "To be called as soon as possible, press 1. Today from two to four p.m., press 2. "
                         "Tomorrow from nine to noon, press 3."},
    "demo-your-number": {"ru": "Мы перезвоним на номер", "en": "We will call you back on"},
    "demo-confirm": {"ru": "Если номер верный, нажмите 1. Чтобы ввести другой, нажмите 2.",
                     "en": "If this is right, press 1. To enter another number, press 2."},
    "demo-enter-number": {"ru": "Введите номер телефона и нажмите решётку.",
                          "en": "Enter the phone number, then press hash."},
    "demo-order-taken": {"ru": "Заказ принят. Оператор вам перезвонит.",
                         "en": "Your order is taken. An operator will call you back."},
}

DEMO_SCENARIO = {
    "start": "menu",
    "nodes": {
        "menu": {"type": "menu", "prompts": ["demo-menu"], "timeout": 5, "retries": 1,
                 "options": {"1": "account", "2": "message", "3": "callback", "0": "operators"},
                 "next": {"fail": "operators"}, "pos": [40, 160]},
        "account": {"type": "input", "prompts": ["demo-account"], "variable": "account", "min_digits": 4,
                    "max_digits": 8, "timeout": 7, "retries": 1,
                    "next": {"next": "find", "fail": "operators"}, "pos": [300, 40]},
        "find": {"type": "lookup", "table": "accounts", "by": "account", "prefix": "client",
                 "next": {"found": "balance", "not_found": "operators"}, "pos": [560, 40]},
        "balance": {"type": "play", "prompts": ["demo-balance"], "next": {"next": "amount"}, "pos": [820, 40]},
        "amount": {"type": "say", "value": "{client_balance}", "as": "number",
                   "next": {"next": "operators"}, "pos": [1080, 40]},
        "message": {"type": "message", "prompts": ["demo-message"], "group": "support", "max_seconds": 60,
                    "next": {"next": "bye", "empty": "operators"}, "pos": [300, 200]},
        "callback": {"type": "callback", "prompts": ["demo-slots"], "group": "support",
                     "slots": ["14:00-16:00", "tomorrow 09:00-12:00"], "number_prompts": ["demo-your-number"],
                     "confirm_prompts": ["demo-confirm"], "enter_prompts": ["demo-enter-number"],
                     "done_prompts": ["demo-order-taken"], "next": {"next": "bye", "fail": "operators"},
                     "pos": [300, 340]},
        "bye": {"type": "hangup", "prompts": ["demo-thanks"], "pos": [560, 280]},
        "operators": {"type": "route", "to": "group", "group": "support", "pos": [820, 200]},
    },
}
DEMO_ACCOUNTS = "account;name;balance\n1001;Иван Петров;1500\n1002;Ольга Смирнова;320\n4242;ООО «Ромашка»;98000\n"
DEMO_DNIS = "200"


def seed_ivr(db, sounds) -> bool:
    """Add the demo IVR (prompts, data table, scenario bound to 200) unless a
    scenario named 'demo' exists."""
    from appliance.prompts import store as prompt_library
    from appliance.scenarios import store as scenarios
    from appliance.tables import store as datatables
    if db.execute("SELECT 1 FROM scenarios WHERE name = 'demo'").fetchone():
        return False
    for name, texts in DEMO_PROMPTS.items():
        for language, text in texts.items():
            prompt_library.say(db, sounds, name, language, text, by="demo")
    datatables.import_csv(db, "accounts", DEMO_ACCOUNTS.encode("utf-8"), "account")
    scenarios.create(db, "demo", "Демо — баланс и сообщения", DEMO_SCENARIO)
    scenarios.publish(db, "demo", "demo")
    scenarios.bind(db, DEMO_DNIS, scenario="demo")
    return True
