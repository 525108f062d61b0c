"""Does an answer sentence answer the question, and do the passages it cites address it?

Supported is not the same as answering: asked "Who manages the Leeds office?", the sentence
"Jane Roe is the Chief Financial Officer [3]" may be supported by passage [3] (a filing) and
still answer nothing. A sentence addresses the question when, read with the passage sentence
that supports it and that passage's title and section,

- it matches enough of the question's key terms (``min_coverage`` of their weight; the names
  the question mentions weigh double), and
- it holds the kind of answer asked for (a number for "how much", a person or role for "who";
  ``rag.questions``).

A cited passage addresses the question when its title, section and text match enough of the key
terms and one of the names the question mentions.

Example::

    profile = profile_question("Who manages the Leeds office?")
    addresses(profile, "Jane Roe is the Chief Financial Officer.", ["..."])   # (False, "...")
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.questions import QuestionProfile, answer_type_in, matched_terms, term_coverage
from rag.types import Passage

#: weighted share of the question's key terms a sentence (with its quote) must match.
MIN_COVERAGE = 0.3


def _names_matched(profile: QuestionProfile, text: str) -> bool:
    named = [t for t, w in profile.terms.items() if w >= 2]
    return not named or bool(set(named) & set(matched_terms(profile, text)))


def addresses(
    profile: QuestionProfile,
    sentence: str,
    context: Sequence[str],
    *,
    min_coverage: float = MIN_COVERAGE,
) -> tuple[bool, str]:
    """(whether ``sentence`` answers the question, why not); ``context``: the supporting passage
    sentences and their passages' titles and sections."""
    text = " ".join([sentence, *context])
    if not answer_type_in(profile.kind, sentence):
        return False, f"does not give the {profile.kind} the question asks for"
    if term_coverage(profile, text) < min_coverage:
        missing = [t for t in profile.terms if t not in matched_terms(profile, text)]
        return False, f"does not match the question ({', '.join(missing)} not mentioned)"
    return True, ""


def passage_addresses(
    profile: QuestionProfile, passage: Passage, *, min_coverage: float = MIN_COVERAGE
) -> bool:
    """Whether a passage (its title, section and text) addresses the question."""
    chunk = passage.chunk
    text = " ".join([chunk.title, chunk.section, chunk.text])
    return _names_matched(profile, text) and term_coverage(profile, text) >= min_coverage
