"""Deterministic text: titles, bodies and names with the awkward Unicode real Reddit carries.

Everything takes a ``random.Random`` so callers decide the seeding (usually the thing's id),
which keeps text stable no matter in which order things are rendered.
"""

from __future__ import annotations

import random
import re

WORDS = (
    "data python async pipeline question help why how does anyone know best way learn model "
    "dataset graph cat dog science research paper study result news today world update "
    "problem solution error bug feature release version install build test deploy cloud "
    "cheap fast slow big small new old first last great terrible weird simple hard easy "
    "project idea thoughts opinion advice experience career job interview code library "
    "framework performance memory query table join index cache thread lock queue stream "
    "planet energy climate ocean brain vaccine virus cell gene quantum photon galaxy star "
    "election policy market economy city river mountain village festival museum history "
    "puppy kitten sleeping playing found rescued adopted tiny fluffy happy grumpy curious"
).split()

# Snippets a pipeline must carry through untouched: emoji (incl. ZWJ sequences), RTL scripts,
# CJK, zero-width characters and the three characters raw_json=1 stops Reddit from escaping.
SPICE = (
    "🐍🔥",
    "👩\u200d💻 works from home",
    "😂😂😂",
    "🏳️\u200d🌈",
    "مرحبا بالعالم",
    "שלום עולם",
    "你好，世界",
    "日本語のテキスト",
    "한국어 문장",
    "zero\u200bwidth\u200bspace",
    "AT&T <b>not html</b> 3 > 2 && 1 < 2",
    "Ünïcödé façade naïve café",
    "Ελληνικά και кириллица",
    "emoji at end 🎉",
    "tab\tand\u00a0nbsp",
)

SYLLABLES = (
    "ka ro mi su te na lo vi ze pa qu ix or an el ul bo da fi gu "
    "zer mox tal vin dor kel sam pit wex nur"
).split()

LINK_DOMAINS = ("github.com", "nytimes.com", "arxiv.org", "youtube.com", "bbc.co.uk", "medium.com")
FLAIRS = (None, None, None, "Discussion", "Question", "News", "Meta", "OC", "Help", "Showcase")


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def sentence(rng: random.Random, lo: int = 4, hi: int = 14, spice: float = 0.15) -> str:
    text = words(rng, rng.randint(lo, hi))
    text = text[:1].upper() + text[1:]
    if rng.random() < spice:
        text += " " + rng.choice(SPICE)
    return text + rng.choice((".", "?", "!", "...", ""))


def paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(sentence(rng) for _ in range(sentences))


def title(rng: random.Random) -> str:
    return sentence(rng, 3, 12, spice=0.2)


def selftext(rng: random.Random, *, huge: bool = False) -> str:
    if huge:
        # ~40k characters: long enough to trip naive column sizes, cheap to build.
        chunk = "\n\n".join(paragraph(rng, 6) for _ in range(6))
        text = ""
        while len(text) < 40_000:
            text += chunk + "\n\n"
        return text[:40_000]
    if rng.random() < 0.25:
        return ""
    return "\n\n".join(paragraph(rng, rng.randint(1, 4)) for _ in range(rng.randint(1, 3)))


def comment_body(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.05:
        return rng.choice(SPICE)
    if roll < 0.1:
        return "> " + sentence(rng) + "\n\n" + sentence(rng)
    return paragraph(rng, rng.randint(1, 3))


def username(rng: random.Random) -> str:
    name = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
    style = rng.random()
    if style < 0.3:
        name = name.capitalize()
    if style > 0.6:
        name += str(rng.randint(1, 9999))
    if 0.45 < style < 0.55:
        name = name[:8] + "_" + name[8:]
    return name[:20]


def slug(text: str) -> str:
    ascii_words = re.findall(r"[a-z0-9]+", text.lower())
    return "_".join(ascii_words)[:50].rstrip("_") or "_"


def to_base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rem = divmod(number, 36)
        out = digits[rem] + out
        if number == 0:
            return out
