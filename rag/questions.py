"""What a question asks for: the kind of answer it expects and the terms an answer must match.

``profile_question("How much does Insight Pro cost?")`` gives kind ``amount`` (an answer states a
number), key terms ``cost`` and the name ``Insight Pro`` (names weigh double). Answerability,
extraction and the grounding check all read the same profile:

- ``answer_type_in(kind, text)``: whether a text holds the kind of thing asked for (a number for
  "how much", a date or a condition for "when", a duration for "how long", a name or a role for
  "who", ...). ``other`` (a "what is ..." question) accepts anything.
- ``term_coverage(profile, text)``: the weighted share of the question's key terms a text
  contains (word stems, so "driving" matches "driven"; "Wi-Fi" matches "WiFi").

Example::

    p = profile_question("By what time do I have to tell my team lead that I'm sick?")
    p.kind                                      # "when"
    answer_type_in(p.kind, "notify your team lead by 9:00")   # True
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.text import STOPWORDS, names_in

KINDS = (
    "amount",
    "count",
    "percent",
    "when",
    "duration",
    "person",
    "place",
    "other",
)

# Words a question uses to ask, not to say what it is about: missing from an answer, they say
# nothing about whether the answer is there.
GENERIC_TERMS = frozenset(
    """company companies policy policies employee employees staff allowed allow need needs
    needed get tell know please document documents information exactly main use used using
    like give make take new state states stated mentioned according say says said mean means
    find kind type types happen happens usually currently there here someone anyone i'm i've
    im ive am let us want wants able way ways thing things cost costs price prices much many long
    often report reports review study studies paper article text conclusion conclusions focus
    purpose aim aims goal goals objective objectives summary overview topic""".split()
)

_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
    r"forty|fifty|sixty|hundred|thousand|million|billion|half|dozen|single|double|twice"
)
_NUMBER = re.compile(rf"\d|\b(?:{_NUMBER_WORDS})\b", re.IGNORECASE)
_PERCENT = re.compile(r"\d\s*%|\bper\s*cent\b|\bpercent(?:age)?\b", re.IGNORECASE)
_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_DATE = re.compile(
    rf"\b(?:{_MONTHS})\b\.?\s*\d|\d\s*(?:{_MONTHS})\b|\b(?:19|20)\d\d\b|\b\d{{1,2}}[:.]\d\d\b|"
    r"\b\d{1,2}\s*(?:am|pm|a\.m\.|p\.m\.)|\b\d{1,2}(?:st|nd|rd|th)\b|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b|"
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|noon|midnight|"
    r"morning|afternoon|evening|night|quarter|weekly|monthly|yearly|annually|daily|"
    r"today|tomorrow|yesterday)\b",
    re.IGNORECASE,
)
#: "when" is often a condition ("when may I fly?" "for destinations more than 600 km away").
_CONDITION = re.compile(
    r"\b(?:if|when|whenever|once|after|before|until|unless|within|during|over|above|below|"
    r"under|more than|less than|only|as long as|provided|prior to|following|upon|from|by)\b",
    re.IGNORECASE,
)
_TIME_UNIT = (
    r"seconds?|minutes?|mins?|hours?|hrs?|days?|nights?|weeks?|months?|years?|decades?|"
    r"quarters?|semesters?|terms?|h|d|y|yrs?"
)
_DURATION = re.compile(
    rf"(?:\d[\d.,]*|\b(?:{_NUMBER_WORDS}|a|an|several|few)\b)[\s-]*(?:\w+[\s-]+)?"
    rf"(?:{_TIME_UNIT})\b|\b(?:{_TIME_UNIT})\s+\d",
    re.IGNORECASE,
)
_ROLE = re.compile(
    r"\b(?:lead|leads|manager|managers|director|directors|head|officer|chief|ceo|cfo|cto|coo|"
    r"president|chair(?:man|woman|person)?|owner|team|department|desk|office|committee|board|"
    r"supervisor|administrator|agency|partner|colleague|buddy|hr|people|author|authors|"
    r"investigators?|researchers?|scientists?|company|organi[sz]ation|institute|university|"
    r"ministry|government|who|cdc)\b",
    re.IGNORECASE,
)
_EMAIL_OR_URL = re.compile(r"\S+@\S+\.\w+|https?://\S+|www\.\S+", re.IGNORECASE)
_PLACE = re.compile(
    r"\b(?:room|desk|floor|building|street|strasse|road|avenue|office|headquarters|site|"
    r"portal|app|tool|website|page|intranet|folder|drive|city|country|region|at|in|on|via|"
    r"through|to)\b",
    re.IGNORECASE,
)

_MONEY = re.compile(
    r"\d\s*(?:%|eur|usd|gbp|chf|€|\$|£|dollars?|euros?|million|billion)|[€$£]\s*\d", re.I
)


def _kind(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(alternatives), re.IGNORECASE)


_LEAD = r"^\s*(?:[\w'’-]+\s+){0,3}"  # "and when", "so who exactly"
_AMOUNT_NOUNS = (
    r"price|prices|cost|costs|fee|fees|rate|rates|amount|allowance|salary|budget|cap|limit|"
    r"revenue|revenues|sales|income|margin|charge|threshold"
)
_KIND_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("percent", _kind(r"\bwhat\s+(?:percentage|percent|share|proportion|fraction)\b")),
    (
        "duration",
        _kind(
            r"\bhow\s+long\b",
            r"\bfor\s+how\s+(?:many|much)\s+(?:days|weeks|months|years|hours)\b",
            r"\bwhat\s+(?:is\s+the\s+)?(?:duration|period|notice period|deadline)\b",
            r"\bwithin\s+how\b",
        ),
    ),
    ("count", _kind(r"\bhow\s+many\b", r"\bwhat\s+(?:is\s+the\s+)?(?:number|count)\s+of\b")),
    (
        "amount",
        _kind(
            r"\bhow\s+much\b",
            rf"\bwhat\s+(?:[\w'’-]+\s+){{0,5}}(?:{_AMOUNT_NOUNS})\b",
            r"\bwhat\s+does\s+.+\s+cost\b",
            r"\babove\s+what\s+amount\b",
        ),
    ),
    (
        "when",
        _kind(
            _LEAD + r"when\b",
            r"\bwhat\s+(?:date|day|time|year|month|hour)\b",
            r"\bby\s+when\b",
            r"\bwhich\s+(?:date|day|year|month|quarter)\b",
        ),
    ),
    (
        "person",
        _kind(
            _LEAD + r"(?:who|whom|whose)\b",
            r"\bwhich\s+(?:person|people|team|department|manager|company|organi[sz]ation)\b",
        ),
    ),
    (
        "place",
        _kind(
            _LEAD + r"where\b",
            r"\bwhich\s+(?:city|country|office|room|location|address|building|site)\b",
            r"\bwhat\s+(?:address|location)\b",
        ),
    ),
)

_WORD = re.compile(r"[\w'’-]+", re.UNICODE)


def stem(word: str) -> str:
    """A crude English stem: 'policies' -> 'polic', 'driving' -> 'driv', 'days' -> 'day'."""
    word = word.lower().replace("-", "").replace("’", "'").removesuffix("'s")
    if len(word) <= 4:
        return word.rstrip("s") if len(word) > 3 and word.endswith("s") else word
    return re.sub(r"(ies|es|s|ing|ed|er|ly)$", "", word)


@dataclass
class QuestionProfile:
    """What a question asks for (see the module doc)."""

    question: str
    kind: str
    #: stems of the key content words, each with its weight (names weigh 2).
    terms: dict[str, float] = field(default_factory=dict)
    #: the names the question mentions, as written ("Insight Pro", "HIV-1").
    names: list[str] = field(default_factory=list)

    @property
    def total_weight(self) -> float:
        """Sum of the term weights (0 when the question has no key term)."""
        return sum(self.terms.values())


_SECOND_PART = re.compile(
    r"\?\s+(?=[A-Z])|,?\s+and\s+(?=(?:what|how|when|who|where|which|why|is|are|does|do|can)\b)",
    re.IGNORECASE,
)


def question_parts(question: str) -> list[str]:
    """The parts of a two-part question ("Is X safe? How long does it protect?", "What is X
    and how much does it cost?"), each with two content words or more; else the question."""
    pieces = [p.strip() for p in _SECOND_PART.split(question.strip()) if p.strip()]
    if len(pieces) != 2:
        return [question.strip()]
    if any(len([w for w in _WORD.findall(p) if w.lower() not in STOPWORDS]) < 2 for p in pieces):
        return [question.strip()]
    return [(p[:1].upper() + p[1:]).rstrip("?") + "?" for p in pieces]


def question_kind(question: str) -> str:
    """The kind of answer ``question`` expects (one of ``KINDS``)."""
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(question):
            return kind
    return "other"


def profile_question(question: str) -> QuestionProfile:
    """The kind and key terms of ``question`` (see the module doc)."""
    names = [n for n in names_in(question) if not re.search(r"['’]", n)]  # not "I'm"
    name_stems = {stem(part) for name in names for part in re.split(r"[\s-]+", name) if part}
    terms: dict[str, float] = {}
    for raw in _WORD.findall(question):
        word = raw.strip("'’-").lower()
        if len(word) < 2 or word in STOPWORDS or word in GENERIC_TERMS:
            continue
        is_name = stem(word) in name_stems
        # a name is matched as written ("Italy", not the stem "ita"), less a plural or possessive
        key = _squash(re.sub(r"['’]s$", "", word)) if is_name else stem(word)
        weight = 2.0 if is_name or any(c.isdigit() for c in word) else 1.0
        terms[key] = max(terms.get(key, 0.0), weight)
    return QuestionProfile(question, question_kind(question), terms, names)


def answer_type_in(kind: str, text: str) -> bool:
    """Whether ``text`` holds the kind of thing a ``kind`` question asks for."""
    if kind in ("amount", "count"):
        return bool(_NUMBER.search(text))
    if kind == "percent":
        return bool(_PERCENT.search(text))
    if kind == "duration":
        return bool(_DURATION.search(text))
    if kind == "when":
        return bool(_DATE.search(text) or _DURATION.search(text) or _CONDITION.search(text))
    if kind == "person":
        return bool(names_in(text) or _ROLE.search(text) or _EMAIL_OR_URL.search(text))
    if kind == "place":
        return bool(names_in(text) or _EMAIL_OR_URL.search(text) or _PLACE.search(text))
    return True


def answer_type_strength(kind: str, text: str) -> float:
    """1.0 when ``text`` clearly holds the asked kind (a date, not a bare condition), 0.5 when
    only loosely, 0 when not; ``other`` questions get 0.5 for every text."""
    if kind == "other":
        return 0.5
    if not answer_type_in(kind, text):
        return 0.0
    if kind == "when":
        return 1.0 if _DATE.search(text) else 0.5
    if kind == "person":
        return 1.0 if names_in(text) or _EMAIL_OR_URL.search(text) else 0.5
    if kind == "place":
        return 1.0 if names_in(text) or _EMAIL_OR_URL.search(text) else 0.5
    if kind == "amount":
        return 1.0 if _MONEY.search(text) else 0.5
    if kind == "count":
        return 1.0 if re.search(r"\d", text) else 0.5
    return 1.0


def _squash(text: str) -> str:
    """Lower case with hyphens inside words removed ('Wi-Fi' -> 'wifi')."""
    return re.sub(r"(?<=\w)[-’'](?=\w)", "", text.lower())


def matched_terms(profile: QuestionProfile, text: str) -> list[str]:
    """The key-term stems of ``profile`` that occur in ``text`` (as the start of a word)."""
    squashed = _squash(text)
    found = []
    for term in profile.terms:
        pattern = r"(?<!\w)" + re.escape(term) + (r"\w*" if len(term) >= 4 else r"(?:s|es)?\b")
        if re.search(pattern, squashed):
            found.append(term)
    return found


def term_coverage(profile: QuestionProfile, text: str) -> float:
    """Weighted share of the question's key terms found in ``text`` (1.0 without key terms)."""
    total = profile.total_weight
    if total <= 0:
        return 1.0
    return sum(profile.terms[t] for t in matched_terms(profile, text)) / total
