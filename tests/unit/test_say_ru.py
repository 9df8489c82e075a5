"""Numbers and money in Russian: the words a caller hears, their genders and
the three forms of a counted word; every word is one Korund makes."""
from __future__ import annotations

import pytest

from appliance.agi.call_io import AgiCallIO
from appliance.prompts import builtin, numbers_ru
from appliance.prompts.numbers_ru import money, number, say_money, say_number


def spoken(words: list[str]) -> str:
    return " ".join(numbers_ru.WORDS[w] for w in words)


@pytest.mark.parametrize("n, said", [
    (0, "ноль"),
    (1, "один"), (2, "два"), (5, "пять"), (11, "одиннадцать"), (12, "двенадцать"),
    (21, "двадцать один"), (22, "двадцать два"), (40, "сорок"), (100, "сто"), (101, "сто один"),
    (115, "сто пятнадцать"), (320, "триста двадцать"), (999, "девятьсот девяносто девять"),
    (1000, "тысяча"), (1001, "тысяча один"), (1500, "тысяча пятьсот"), (2000, "две тысячи"),
    (4000, "четыре тысячи"), (5000, "пять тысяч"), (11000, "одиннадцать тысяч"),
    (12000, "двенадцать тысяч"), (21000, "двадцать одна тысяча"), (22000, "двадцать две тысячи"),
    (98000, "девяносто восемь тысяч"), (111000, "сто одиннадцать тысяч"),
    (201001, "двести одна тысяча один"),
    (1_000_000, "миллион"), (2_000_000, "два миллиона"), (5_000_000, "пять миллионов"),
    (1_001_000, "миллион одна тысяча"), (21_000_000, "двадцать один миллион"),
    (2_000_002, "два миллиона два"),
    (999_999_999, ("девятьсот девяносто девять миллионов девятьсот девяносто девять тысяч "
                   "девятьсот девяносто девять")),
    (1_000_000_000, "миллиард"), (3_000_000_000, "три миллиарда"),
    (-5, "минус пять"), (-1500, "минус тысяча пятьсот"),
])
def test_number_words(n, said):
    assert spoken(number(n)) == said


@pytest.mark.parametrize("n, said", [
    (1, "одна"), (2, "две"), (3, "три"), (12, "двенадцать"), (21, "двадцать одна"),
    (22, "двадцать две"), (1002, "тысяча две"),
])
def test_feminine(n, said):
    assert spoken(number(n, feminine=True)) == said


@pytest.mark.parametrize("roubles, said", [
    (0, "ноль рублей"), (1, "один рубль"), (2, "два рубля"), (4, "четыре рубля"), (5, "пять рублей"),
    (11, "одиннадцать рублей"), (12, "двенадцать рублей"), (14, "четырнадцать рублей"),
    (21, "двадцать один рубль"), (22, "двадцать два рубля"), (100, "сто рублей"),
    (101, "сто один рубль"), (111, "сто одиннадцать рублей"), (1000, "тысяча рублей"),
    (1001, "тысяча один рубль"), (1500, "тысяча пятьсот рублей"), (2000, "две тысячи рублей"),
    (5000, "пять тысяч рублей"), (21000, "двадцать одна тысяча рублей"),
    (98000, "девяносто восемь тысяч рублей"), (1_000_000, "миллион рублей"),
    (2_000_000, "два миллиона рублей"), (2_000_001, "два миллиона один рубль"),
])
def test_roubles(roubles, said):
    assert spoken(money(roubles * 100)) == said


@pytest.mark.parametrize("kopecks, said", [
    (1, "одна копейка"), (2, "две копейки"), (3, "три копейки"), (5, "пять копеек"),
    (11, "одиннадцать копеек"), (12, "двенадцать копеек"), (21, "двадцать одна копейка"),
    (22, "двадцать две копейки"), (50, "пятьдесят копеек"), (99, "девяносто девять копеек"),
])
def test_kopecks_are_feminine(kopecks, said):
    assert spoken(money(100 + kopecks)) == f"один рубль {said}"


@pytest.mark.parametrize("value, said", [
    ("1500", "тысяча пятьсот рублей"),
    ("1500.00", "тысяча пятьсот рублей"),
    ("21001.02", "двадцать одна тысяча один рубль две копейки"),
    ("1 500,5", "тысяча пятьсот рублей пятьдесят копеек"),
    ("0.01", "ноль рублей одна копейка"),
    ("12.345", "двенадцать рублей тридцать пять копеек"),    # rounded to whole kopecks
    ("-320.21", "минус триста двадцать рублей двадцать одна копейка"),
    ("0099.999", "сто рублей"),
])
def test_amounts_as_written(value, said):
    assert spoken(say_money(value)) == said


@pytest.mark.parametrize("value", ["", "-", "12a", "1.2.3", "1e5", "²", "٣", "1_000", "0x10",
                                   "1000000000000", "9" * 5000, "999999999999.995", "1." + "5" * 7])
def test_what_is_not_a_number_or_an_amount(value):
    assert say_number(value) is None
    assert say_money(value) is None


def test_numbers_as_written():
    assert spoken(say_number("98 000")) == "девяносто восемь тысяч"
    assert spoken(say_number("-007")) == "минус семь"
    assert spoken(say_number("999999999999")).startswith("девятьсот девяносто девять миллиардов")


def test_every_word_said_is_one_korund_makes():
    used = set()
    for n in [*range(2100), *range(2100, 10 ** 6, 997), *range(10 ** 6, 10 ** 12, 999_983_951)]:
        used.update(number(n), number(n, feminine=True), money(n), money(-n))
    assert used == set(numbers_ru.WORDS)
    assert builtin.NUMBER_WORDS["ru"] is numbers_ru.WORDS


# --- what the AGI side sends ----------------------------------------------------

class FakeAgi:
    def __init__(self):
        self.sent = []

    def stream_file(self, path, escape_digits=""):
        self.sent.append(("STREAM FILE", path, escape_digits))
        return ""

    def say_number(self, value):
        self.sent.append(("SAY NUMBER", value))

    def say_digits(self, value):
        self.sent.append(("SAY DIGITS", value))


@pytest.fixture
def sounds(tmp_path):
    for word in numbers_ru.WORDS:
        path = builtin.number_word_path(tmp_path, "ru", word).with_suffix(".wav")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    return tmp_path


def test_russian_streams_the_words_uninterrupted(sounds):
    agi = FakeAgi()
    AgiCallIO(agi, sounds, "ru").say("1500", "number")
    AgiCallIO(agi, sounds, "ru").say("2.01", "money")
    folder = sounds / "ru" / "numbers"
    assert agi.sent == [("STREAM FILE", str(folder / w), "") for w in
                        ("thousand-1", "500", "2", "rouble-2", "1f", "kopeck-1")]


def test_english_keeps_asterisks_say_number(sounds):
    agi = FakeAgi()
    AgiCallIO(agi, sounds, "en").say("1500", "number")
    AgiCallIO(agi, sounds, "en").say("12.50", "money")
    assert agi.sent == [("SAY NUMBER", "1500"), ("SAY NUMBER", "12"), ("SAY NUMBER", "50")]


@pytest.mark.parametrize("language", ["ru", "en"])
def test_what_is_no_number_is_said_as_its_digits(sounds, language):
    agi = FakeAgi()
    AgiCallIO(agi, sounds, language).say("12a3²", "number")
    assert agi.sent == [("SAY DIGITS", "123")]


def test_without_the_words_asterisk_says_it(tmp_path):
    agi = FakeAgi()
    AgiCallIO(agi, tmp_path, "ru").say("1500", "number")
    assert agi.sent == [("SAY NUMBER", "1500")]
