"""Overflow to a callback offer (F3 with the ACD's max wait).

A group's overflow may be "offer a callback": the caller who waited the
group's longest wait hears that all operators are busy and may order a
callback (1 = as soon as possible, then their own number is read back:
1 = right, 2 = enter another). The order is stored for the group and the
dialer places it when an operator is ready.

It is built from the pieces the IVR already has: choosing this overflow
writes (or refreshes) and publishes a scenario ``callback-<group>`` holding
one callback node for the group and a goodbye, and the group overflows to
that scenario. Its prompts are spoken by espeak-ng into the prompt library
(``callback-offer``, ...) the first time; an administrator may re-record
them on the Prompts page or change the scenario in the editor (it is only
rewritten when this overflow is chosen again).
"""
from __future__ import annotations

from pathlib import Path

from appliance.base.errors import ConfigError
from appliance.prompts import store as prompt_library
from appliance.scenarios import store as scenarios

CHOICE = "callback"   # the group form's overflow value ("callback:")
PROMPTS = {
    "callback-offer": {
        "ru": "Все операторы заняты. Чтобы мы перезвонили вам, как только оператор освободится, нажмите 1.",
        "en": "All our operators are busy. To have us call you back as soon as an operator is free, press 1.",
    },
    "callback-number": {"ru": "Мы перезвоним по номеру", "en": "We will call you back at"},
    "callback-confirm": {
        "ru": "Если номер верный, нажмите 1. Чтобы ввести другой номер, нажмите 2.",
        "en": "If this number is right, press 1. To enter another number, press 2.",
    },
    "callback-enter": {
        "ru": "Введите номер телефона и нажмите решётку.",
        "en": "Enter your phone number, then press the pound key.",
    },
    "callback-done": {
        "ru": "Спасибо! Заказ принят, мы вам перезвоним. До свидания.",
        "en": "Thank you! We will call you back. Goodbye.",
    },
    "callback-sorry": {
        "ru": "Извините, заказ не принят. Позвоните нам позже. До свидания.",
        "en": "Sorry, no callback was ordered. Please call again later. Goodbye.",
    },
}


def scenario_name(group: str) -> str:
    return f"callback-{group}"[:32].rstrip("-_")


def graph(group: str) -> dict:
    return {
        "start": "offer",
        "nodes": {
            "offer": {"type": "callback", "group": group, "prompts": ["callback-offer"], "slots": [],
                      "number_prompts": ["callback-number"], "confirm_prompts": ["callback-confirm"],
                      "enter_prompts": ["callback-enter"], "done_prompts": ["callback-done"],
                      "min_digits": 5, "max_digits": 15, "timeout": 6, "retries": 1,
                      "next": {"next": "bye", "fail": "sorry"}},
            "bye": {"type": "hangup"},
            "sorry": {"type": "hangup", "prompts": ["callback-sorry"]},
        },
    }


def ensure(db, sounds: Path, group: str, by: str | None = None) -> str:
    """Make the group's callback-offer scenario (prompts spoken where
    missing), publish it and return its name, for overflow 'scenario'."""
    for name, texts in PROMPTS.items():
        for language, text in texts.items():
            if prompt_library.wav_file(sounds, name, language) is None:
                try:
                    prompt_library.say(db, sounds, name, language, text, by)
                except ConfigError as exc:
                    raise ConfigError("overflow_target", "the callback offer could not be prepared: {error}",
                                      error=exc.text) from None
    name = scenario_name(group)
    title = f"Callback offer: {group}"
    if db.execute("SELECT 1 FROM scenarios WHERE name = ?", [name]).fetchone():
        scenarios.save_draft(db, name, graph(group))
    else:
        scenarios.create(db, name, title, graph(group))
    try:
        scenarios.publish(db, name, by, prompt_exists=lambda n: any(
            prompt_library.wav_file(sounds, n, lang) for lang in ("ru", "en")))
    except ConfigError as exc:
        raise ConfigError("overflow_target", "the callback offer could not be prepared: {error}",
                          error=exc.text) from None
    return name
