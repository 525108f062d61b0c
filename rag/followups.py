"""Follow-up questions rewritten to stand alone, by rules (no model): the cases that read right.

After "Who manages the Leeds office?":

- a pronoun or "there" takes the previous question's subject: "And how many people work
  there?" -> "How many people work at the Leeds office?"; "When did it open?" -> "When did the
  Leeds office open?";
- a prepositional phrase replaces the previous one of its kind: "And in Paris?" after "... in
  Vienna?" -> "... in Paris?"; "And below 500 EUR?" after "... above 2,500 EUR?";
- a full question after "and" stands alone: "And how long is the probation period?";
- a bare new subject ("What about Insight Starter?") is handed to the embedding substitution of
  ``rag.conversation.RuleRewriter``.

``rewrite_follow_up`` returns None when no rule applies; the caller then keeps the previous
question as context.

Example::

    subject_of("How much does Insight Pro cost?")                 # "Insight Pro"
    resolve_pronouns("Does it include SSO?", "Insight Pro")        # "Does Insight Pro include SSO?"
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rag.text import STOPWORDS

_AUX = frozenset(
    "is are was were do does did can could will would should may might must has have had".split()
)
_WH = frozenset("what which who whom whose when where why how".split())
_PREPOSITIONS = (
    "in at on during under after before within outside inside since until from to by for "
    "above below over under between per"
).split()
#: prepositions one can stand for another in a follow-up ("above 2,500 EUR" -> "below 500 EUR")
_COMPARATIVES = frozenset("above below over under".split())
_DETERMINERS = frozenset("the a an my our your this that these those".split())
_STOP_AT = frozenset(_PREPOSITIONS) | {"if", "when", "and", "or", "as", "than", "with", "of"}
_LEAD_CUE = re.compile(r"^\s*(?:(?:and|but|also|so|ok|okay|then|now|well)\b[\s,]*)+", re.I)
_ELLIPSIS_CUE = re.compile(
    r"^\s*(?:what about|how about|what of|as for|regarding|same for|same with)\b\s*", re.I
)
_TOKEN = re.compile(r"[\w'’-]+(?:[.,][\w'’-]+)*|[^\w\s]")
_SINGULAR = frozenset("it its".split())
_PLURAL = frozenset("they them their theirs".split())


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.strip().rstrip("?!. "))


def _np_after(
    tokens: list[str], start: int, *, drop_final_verb: bool, allow_of: bool = False
) -> str | None:
    """The noun phrase starting at ``start``, up to a preposition, auxiliary or the end."""
    out: list[str] = []
    for i in range(start, len(tokens)):
        low = tokens[i].lower()
        if low in _AUX or low in _WH or (out and low in _STOP_AT and low != "of"):
            break
        if low == "of" and out and out[-1].lower() in ("name", "number", "cost", "price"):
            out = []  # "the name of the company VPN" -> "the company VPN"
            continue
        if low == "of" and not allow_of:
            break
        out.append(tokens[i])
    if drop_final_verb and len(out) >= 2 and start + len(out) == len(tokens):
        out = out[:-1]  # "does Insight Pro cost" -> "Insight Pro"
    while out and (out[-1].lower() in STOPWORDS or not re.search(r"\w", out[-1])):
        out.pop()
    if not out or all(t.lower() in _DETERMINERS for t in out):
        return None
    return " ".join(out)


def subject_of(previous: str) -> str | None:
    """What ``previous`` asks about, as it can stand in a question: "Which hardware key is used
    ..." -> "the hardware key"; "How much does Insight Pro cost?" -> "Insight Pro"; "Who manages
    the Leeds office?" -> "the Leeds office"; "How long is parental leave?" -> "parental leave"."""
    tokens = _tokens(previous)
    lows = [t.lower() for t in tokens]
    if len(tokens) < 3:
        return None
    if lows[0] in ("which", "what") and lows[1] not in _AUX:
        np = _np_after(tokens, 1, drop_final_verb=False)
        if np:
            return np if np[:1].isupper() else f"the {np}"
    if lows[0] == "how" and lows[1] in ("many", "much") and lows[2] not in _AUX:
        np = _np_after(tokens, 2, drop_final_verb=False, allow_of=True)
        if np:
            return np
    aux = next((i for i, t in enumerate(lows) if t in _AUX), None)
    if aux is not None and aux + 1 < len(tokens):
        np = _np_after(tokens, aux + 1, drop_final_verb=lows[aux] in ("do", "does", "did"))
        if np and np.lower() not in ("i", "we", "you", "it", "they"):
            return np
    if lows[0] in _WH:  # "Who manages the Leeds office?": the phrase after the verb
        det = next((i for i in range(2, len(tokens)) if lows[i] in _DETERMINERS), None)
        if det is not None:
            return _np_after(tokens, det, drop_final_verb=False)
    return None


def resolve_pronouns(question: str, subject: str) -> str | None:
    """``question`` with its pronoun (it, they, its, their, there) replaced by ``subject``; None
    without one."""
    out: list[str] = []
    replaced = False
    for tok in _tokens(question):
        low = tok.lower()
        if replaced or low not in (_SINGULAR | _PLURAL | {"there"}):
            out.append(tok)
            continue
        if low in ("its", "their", "theirs"):
            out.append(subject + ("'" if subject.endswith("s") else "'s"))
        elif low == "there":
            before = out[-1].lower() if out else ""
            if before in _PREPOSITIONS:
                prep = ""
            elif before in ("get", "go", "come", "travel", "drive", "fly"):
                prep = "to "
            else:
                prep = "at "
            out.append(prep + subject)
        else:
            out.append(subject)
        replaced = True
    if not replaced:
        return None
    text = re.sub(r"\s+([,?!.])", r"\1", " ".join(out))
    return _sentence(text)


def replace_phrase(previous: str, phrase: str) -> str | None:
    """``previous`` with its prepositional phrase of the same kind as ``phrase`` ("in Paris",
    "below 500 EUR") replaced by it; ``phrase`` appended when ``previous`` has none."""
    words = phrase.split()
    if not words or words[0].lower() not in _PREPOSITIONS:
        return None
    prep = words[0].lower()
    kinds = _COMPARATIVES if prep in _COMPARATIVES else {prep}
    base = previous.strip().rstrip("?!. ")
    for match in re.finditer(r"\b(" + "|".join(sorted(kinds)) + r")\b\s+", base, re.I):
        rest = base[match.end() :]
        # the phrase runs to the next preposition or the end
        stop = re.search(r"\s(?:" + "|".join(_PREPOSITIONS) + r"|if|when|and)\b", rest)
        end = match.end() + (stop.start() if stop else len(rest))
        if prep == "for" and not _looks_like_group(base[match.end() : end]):
            continue
        return _sentence(f"{base[: match.start()]}{phrase}{base[end:]}")
    return _sentence(f"{base} {phrase}")


def _looks_like_group(text: str) -> bool:
    """'for new employees' is a group a follow-up may swap; 'for business' is not."""
    return len(text.split()) >= 1 and not text.lower().startswith(("business", "example"))


def _sentence(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip().rstrip("?!. ")
    return text[:1].upper() + text[1:] + "?"


def _is_full_question(text: str) -> bool:
    words = [w.lower() for w in re.findall(r"[\w'-]+", text)]
    content = [w for w in words if w not in STOPWORDS]
    return bool(words) and (words[0] in _WH or words[0] in _AUX) and len(content) >= 2


def rewrite_follow_up(
    question: str, previous: str, substitute: Callable[[str, str], str | None]
) -> str | None:
    """The standalone form of follow-up ``question`` after ``previous`` (see the module doc);
    ``substitute(previous, focus)`` puts a new subject in place of the most similar phrase."""
    rest = _LEAD_CUE.sub("", question.strip(), count=1).strip()
    ellipsis = _ELLIPSIS_CUE.match(rest)
    if ellipsis:
        rest = rest[ellipsis.end() :].strip()
    focus = rest.rstrip("?!. ").strip()
    if not focus:
        return None
    first = focus.split()[0].lower()
    if first in _PREPOSITIONS and len(focus.split()) > 1:
        if first == "for" and not ellipsis:
            swapped = _swap(previous, focus.split(" ", 1)[1], substitute)
            if swapped:
                return swapped
        return replace_phrase(previous, focus)
    words = {w.lower() for w in re.findall(r"[\w'-]+", focus)}
    if not ellipsis and words & (_SINGULAR | _PLURAL | {"there"}):
        subject = subject_of(previous)
        if subject:
            return resolve_pronouns(focus, subject)
        return None
    if not ellipsis and _is_full_question(focus):
        return _sentence(focus)
    if len(focus.split()) <= 6:
        swapped = _swap(previous, focus, substitute)
        if swapped is None and ellipsis and re.search(r"\bfor\s", previous):
            return replace_phrase(previous, f"for {focus}")  # "What about moving house?"
        return swapped
    return None


def _swap(previous: str, focus: str, substitute: Callable[[str, str], str | None]) -> str | None:
    """``previous`` with ``focus`` in place of its most similar phrase; an article left before it
    goes when the focus brings its own or needs none ("a trips outside the EU")."""
    bare = re.sub(r"^(?:the|a|an|my|our|your)\s+", "", focus, flags=re.I)
    swapped = substitute(previous, bare)
    if not swapped:
        return None
    if bare == focus and not bare[:1].isupper():
        swapped = re.sub(
            r"\b(?:a|an|my|our|your)\s+(?=" + re.escape(bare) + r")",
            "",
            swapped,
            count=1,
            flags=re.I,
        )
    return _sentence(swapped)
