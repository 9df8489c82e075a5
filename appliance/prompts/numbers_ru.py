"""Numbers and money said in Russian: a value becomes the list of words a
caller hears, each word one sound file of Korund's own (``WORDS``, spoken by
espeak-ng in ``appliance.prompts.builtin``).

Asterisk's SAY NUMBER cannot do this with the stock Russian sound set: that
set is a translation of the English one (it has ``digits/thousand`` and
``digits/hundred`` but no двести … девятьсот, тысячи/тысяч, миллиона/миллионов,
рубль/копейка), and say.c asks for files it does not have. The
words here are all made in one voice, so a number never switches speakers in
the middle.

Grammar: the unit after a number takes one of three forms, chosen by the last
two digits (1, 21 → рубль; 2–4, 22 → рубля; 0, 5–20, 111 → рублей); тысяча and
копейка are feminine (одна тысяча, две копейки), the rest masculine. A leading
"one" before a scale word is not said: 1000 is "тысяча", 1 000 000 "миллион".
"""
from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

LARGEST = 999_999_999_999

# word file name -> what it says
WORDS = {
    "minus": "минус", "0": "ноль",
    "1": "один", "1f": "одна", "2": "два", "2f": "две", "3": "три", "4": "четыре",
    "5": "пять", "6": "шесть", "7": "семь", "8": "восемь", "9": "девять",
    "10": "десять", "11": "одиннадцать", "12": "двенадцать", "13": "тринадцать",
    "14": "четырнадцать", "15": "пятнадцать", "16": "шестнадцать", "17": "семнадцать",
    "18": "восемнадцать", "19": "девятнадцать",
    "20": "двадцать", "30": "тридцать", "40": "сорок", "50": "пятьдесят", "60": "шестьдесят",
    "70": "семьдесят", "80": "восемьдесят", "90": "девяносто",
    "100": "сто", "200": "двести", "300": "триста", "400": "четыреста", "500": "пятьсот",
    "600": "шестьсот", "700": "семьсот", "800": "восемьсот", "900": "девятьсот",
    # the three forms of a counted word, named by the number they follow: 1, 2, 5
    "thousand-1": "тысяча", "thousand-2": "тысячи", "thousand-5": "тысяч",
    "million-1": "миллион", "million-2": "миллиона", "million-5": "миллионов",
    "billion-1": "миллиард", "billion-2": "миллиарда", "billion-5": "миллиардов",
    "rouble-1": "рубль", "rouble-2": "рубля", "rouble-5": "рублей",
    "kopeck-1": "копейка", "kopeck-2": "копейки", "kopeck-5": "копеек",
}

# (size, word, feminine), largest first
SCALES = ((10 ** 9, "billion", False), (10 ** 6, "million", False), (1000, "thousand", True))
NUMBER = re.compile(r"(-?)0*([0-9]{1,12})")
MONEY = re.compile(r"(-?)0*([0-9]{1,12})(?:[.,]([0-9]{1,6}))?")
# spaces people put between digit groups: '1 500', '1\u00a0500'
GROUP_SPACES = str.maketrans("", "", " \u00a0\u202f")


def form(n: int) -> str:
    """Which form of a counted word follows *n*: '1' (рубль), '2' (рубля) or '5' (рублей)."""
    n = abs(n) % 100
    if 11 <= n <= 14:
        return "5"
    return {1: "1", 2: "2", 3: "2", 4: "2"}.get(n % 10, "5")


def _below_thousand(n: int, feminine: bool) -> list[str]:
    hundreds, rest = divmod(n, 100)
    out = [str(hundreds * 100)] if hundreds else []
    if 10 <= rest <= 19:
        return out + [str(rest)]
    tens, units = divmod(rest, 10)
    if tens:
        out.append(str(tens * 10))
    if units:
        out.append(f"{units}f" if feminine and units <= 2 else str(units))
    return out


def number(n: int, feminine: bool = False) -> list[str]:
    """The words of *n* (masculine unless *feminine*: одна, две)."""
    if n < 0:
        return ["minus", *number(-n, feminine)]
    if n > LARGEST:
        raise ValueError(f"{n} is larger than {LARGEST}")
    if n == 0:
        return ["0"]
    out: list[str] = []
    for size, word, fem in SCALES:
        group, n = divmod(n, size)
        if group:
            if group != 1 or out:
                out += _below_thousand(group, fem)
            out.append(f"{word}-{form(group)}")
    if n:
        out += _below_thousand(n, feminine)
    return out


def money(kopecks: int) -> list[str]:
    """The words of an amount in kopecks: roubles always, kopecks when there are any."""
    sign = ["minus"] if kopecks < 0 else []
    roubles, kop = divmod(abs(kopecks), 100)
    out = sign + number(roubles) + [f"rouble-{form(roubles)}"]
    if kop:
        out += number(kop, feminine=True) + [f"kopeck-{form(kop)}"]
    return out


def say_number(value: str) -> list[str] | None:
    """The words of a whole number written in ASCII digits ('-' allowed, spaces
    between groups ignored); None when *value* is no such number or too large."""
    m = NUMBER.fullmatch(value.translate(GROUP_SPACES))
    if not m:
        return None
    return number(-int(m[2]) if m[1] else int(m[2]))


def say_money(value: str) -> list[str] | None:
    """The words of an amount of roubles ('1500', '1500.5', '-12,05'; kopecks
    rounded to whole ones); None when *value* is no such amount or too large."""
    m = MONEY.fullmatch(value.translate(GROUP_SPACES))
    if not m:
        return None
    amount = Decimal(f"{m[2]}.{m[3] or 0}").quantize(Decimal("0.01"), ROUND_HALF_UP)
    if amount >= LARGEST + 1:
        return None
    kopecks = int(amount * 100)
    return money(-kopecks if m[1] else kopecks)
