"""Text helpers shared by answering, grounding and evaluation: sentences, citation markers,
the numbers and names a claim makes, and SQuAD-style answer normalisation."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable

# A sentence ends at . ! ? followed by space and something that starts a sentence, or at a line
# break (table rows and list items are lines). Decimals ("2.5") and "e.g. x" do not split.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])|\s*\n+\s*")
#: ``[1]``, ``[1, 2]``, ``[1-3]``, ``[2; 4]``; the group holds what is inside the brackets.
CITATION_MARKER = re.compile(r"\[\s*(\d{1,3}(?:\s*(?:,|;|-|–|and)\s*\d{1,3})*)\s*\]")
_LIST_MARKER = re.compile(r"^(\d{1,3}|[a-z])[.)]$")
_NUMBER = re.compile(r"(?<![\w])\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[\w'’-]+", re.UNICODE)
_TOKEN = re.compile(r"\w+", re.UNICODE)

STOPWORDS = frozenset(
    """a an the and or but of to in on at for by with from as is are was were be been being it
    its this that these those what which who whom whose when where why how do does did can could
    should would will shall may might must i you he she we they me my our your their there than
    then so if not no yes about into over under any all each some such also only very more most
    much many other per via have has had get gets got one""".split()
)
# Words that are capitalised for grammar, not because they name something.
_COMMON_CAPITALISED = STOPWORDS | frozenset(
    """according however therefore moreover furthermore thus hence yes no based in on at
    sources source passage passages document documents answer note""".split()
)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the sentences of ``text``, whitespace trimmed."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.start()
        # keep closing quotes/brackets that the lookbehind left in the separator
        sep = match.group(0)
        kept = len(sep) - len(sep.lstrip("\"')]"))
        spans.append((start, end + kept))
        start = match.end()
    spans.append((start, len(text)))
    out: list[tuple[int, int]] = []
    glue = False
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e <= s:
            continue
        if glue and out and "\n" not in text[out[-1][1] : s]:
            out[-1] = (out[-1][0], e)  # "1." + "The policy ...": one list item
        else:
            out.append((s, e))
        glue = bool(_LIST_MARKER.match(text[s:e])) and out[-1][0] == s
    return out


def split_sentences(text: str) -> list[str]:
    """The sentences (and lines) of ``text``."""
    return [text[s:e] for s, e in sentence_spans(text)]


def marker_numbers(inner: str) -> list[int]:
    """Passage numbers inside one marker: '1, 3' -> [1, 3]; '2-4' -> [2, 3, 4]."""
    numbers: list[int] = []
    for part in re.split(r"\s*(?:,|;|and)\s*", inner):
        bounds = re.split(r"\s*[-–]\s*", part.strip())
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit():
            lo, hi = int(bounds[0]), int(bounds[1])
            if 0 <= hi - lo <= 20:
                numbers.extend(range(lo, hi + 1))
                continue
        numbers.extend(int(b) for b in bounds if b.isdigit())
    return list(dict.fromkeys(numbers))


def strip_markers(text: str) -> str:
    """``text`` without citation markers, spaces tidied."""
    cleaned = CITATION_MARKER.sub("", text)
    cleaned = re.sub(r"\s+([.,;:!?])", r"\1", cleaned)
    return re.sub(r"[ \t]{2,}", " ", cleaned).strip()


def normalise_number(raw: str) -> str:
    """'7,442' -> '7442', '2.50' -> '2.5', '08' -> '8'."""
    text = raw.replace(",", "")
    if text.count(".") > 1:  # a date or version such as 1.2.3: compare as written
        return raw
    whole, dot, fraction = text.partition(".")
    fraction = fraction.rstrip("0")
    whole = whole.lstrip("0") or "0"
    return f"{whole}.{fraction}" if dot and fraction else whole


def numbers_in(text: str) -> list[str]:
    """The numbers ``text`` states, normalised (see ``normalise_number``), in order."""
    return list(dict.fromkeys(normalise_number(m) for m in _NUMBER.findall(text)))


def names_in(text: str) -> list[str]:
    """Names ``text`` mentions: capitalised words not opening a sentence, acronyms, codes.

    'HIV-1', 'DC-SIGNR', 'Northwind' count; 'The' opening a sentence does not.
    """
    found: list[str] = []
    for s, e in sentence_spans(text):
        words = _WORD.findall(text[s:e])
        for i, raw in enumerate(words):
            word = raw.strip("'’-")
            word = re.sub(r"['’]s$", "", word)
            if len(word) < 2 or word.lower() in _COMMON_CAPITALISED:
                continue
            has_upper_inside = any(c.isupper() for c in word[1:])
            mixed_code = any(c.isdigit() for c in word) and any(c.isalpha() for c in word)
            capitalised = word[0].isupper()
            if has_upper_inside or mixed_code or (capitalised and i > 0):
                found.append(word)
    return list(dict.fromkeys(found))


def occurs_in(needle: str, haystack_lower: str) -> bool:
    """Whether ``needle`` occurs in the lower-cased text as a whole word (case-insensitive)."""
    pattern = r"(?<!\w)" + re.escape(needle.lower()) + r"(?!\w)"
    return re.search(pattern, haystack_lower) is not None


def content_words(text: str) -> list[str]:
    """Lower-cased words of ``text`` without stop words."""
    return [w for w in (t.lower() for t in _TOKEN.findall(text)) if w not in STOPWORDS]


def normalise_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD token F1 of a predicted answer against one gold answer."""
    pred = normalise_answer(prediction).split()
    ref = normalise_answer(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    common = Counter(pred) & Counter(ref)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def contains_answer(prediction: str, gold: str) -> bool:
    """Whether the normalised gold answer occurs in the normalised prediction."""
    ref = normalise_answer(gold)
    return bool(ref) and ref in normalise_answer(prediction)


def sentence_key(sentence: str) -> str:
    """A sentence reduced to its words (no digits, punctuation or markers), for repeat checks."""
    return " ".join(re.sub(r"[\d\W_]+", " ", strip_markers(sentence)).lower().split())


#: share of the shorter sentence's words (figures included) a near-repeat shares with another.
NEAR_REPEAT = 0.8


def _near_words(sentence: str) -> set[str]:
    text = re.sub(r"^\s*\d{1,3}[.)]\s+", "", strip_markers(sentence))  # list numbers aside
    return {w.lower() for w in _TOKEN.findall(text)}


def repeats(sentence: str, seen: Iterable[str], *, min_overlap: float = NEAR_REPEAT) -> bool:
    """Whether ``sentence`` repeats one of the ``seen`` sentences: the same words
    (``sentence_key``), or nearly: 5 words or more, ``min_overlap`` of the shorter one's words
    and figures shared ("All staff must lock their screens." then "All employees must lock
    their screens."; "28 days" and "17 days" state different facts)."""
    key = sentence_key(sentence)
    words = _near_words(sentence)
    for other in seen:
        if key and key == sentence_key(other):
            return True
        theirs = _near_words(other)
        shorter = min(len(words), len(theirs))
        if shorter >= 5 and len(words & theirs) / shorter >= min_overlap:
            return True
    return False


def drop_repeated_sentences(text: str) -> str:
    """``text`` with sentences that repeat an earlier one (the same or nearly the same words)
    left out."""
    seen: list[str] = []
    kept: list[tuple[int, int]] = []
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        if sentence_key(sentence) and repeats(sentence, seen):
            continue
        seen.append(sentence)
        kept.append((start, end))
    if len(kept) == len(sentence_spans(text)):
        return text
    return (
        "\n".join(text[s:e] for s, e in kept)
        if "\n" in text
        else " ".join(text[s:e] for s, e in kept)
    )
