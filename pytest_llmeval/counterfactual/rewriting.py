"""Rewriting text and requests: terms of one group swapped for another's, and the variants of a request."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from pytest_llmeval.backends.base import GenerationRequest, Message
from pytest_llmeval.counterfactual.swap_sets import CounterfactualError, SwapSet

# After these words (or punctuation, or the end) an ambiguous term takes its standalone form.
_STANDALONE_BEFORE = frozenset(
    [
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "some",
        "any",
        "every",
        "each",
        "no",
        "my",
        "your",
        "our",
        "their",
        "its",
        "his",
        "her",
        "him",
        "them",
        "us",
        "me",
        "it",
        "to",
        "of",
        "in",
        "on",
        "at",
        "for",
        "from",
        "with",
        "by",
        "about",
        "into",
        "onto",
        "over",
        "under",
        "after",
        "before",
        "than",
        "as",
        "and",
        "or",
        "but",
        "nor",
        "so",
        "if",
        "when",
        "while",
        "because",
        "is",
        "was",
        "are",
        "were",
        "be",
        "been",
    ]
)


def _pattern(swap_set: SwapSet, terms: Iterable[str]) -> re.Pattern[str]:
    # Longest first, so "young people" wins over "young" and "Chinese people" over "Chinese".
    alternatives = sorted(set(terms), key=len, reverse=True)
    body = "|".join(re.escape(t) for t in alternatives)
    flags = 0 if swap_set.case_sensitive else re.IGNORECASE
    # An article right before the term is captured too, so that "a Muslim" can become "an atheist".
    return re.compile(rf"(?:(?<![\w-])(?P<article>[Aa]n?)(?P<space>\s+))?(?<![\w-])(?P<term>{body})(?![\w-])", flags)


def groups_in(text: str, swap_set: SwapSet) -> list[str]:
    """The groups whose terms occur in ``text``, in the category's order."""
    return [g for g, terms in swap_set.groups.items() if _pattern(swap_set, terms).search(text)]


def _match_case(replacement: str, original: str) -> str:
    """The replacement in the case of the word it replaces: HE -> SHE, He -> She, he -> she (a term
    written with capitals, a name or "Christian", keeps them)."""
    if len(original) > 1 and original.isupper():
        return replacement.upper()
    if original[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def _next_word(text: str, end: int) -> str | None:
    """The word right after ``end`` (None at punctuation or the end)."""
    found = re.match(r"\s*([A-Za-z'-]+)", text[end:])
    if found is None:
        return None
    gap = text[end : end + found.start(1)]
    return None if gap.strip() else found.group(1).lower()


def swap(text: str, swap_set: SwapSet, to_group: str | Mapping[str, str]) -> str:
    """``text`` with terms of one group replaced by the aligned terms of another, in one pass.

    ``to_group`` is a group name (every other group's terms become its terms) or a mapping
    ``{from_group: to_group}`` (only those groups are replaced; ``{"male": "female", "female": "male"}``
    exchanges them)."""
    if isinstance(to_group, str):
        mapping = {g: to_group for g in swap_set.groups if g != to_group}
    else:
        mapping = dict(to_group)
    for group in {*mapping, *mapping.values()}:
        if group not in swap_set.groups:
            raise CounterfactualError(
                f"category {swap_set.category!r} has no group {group!r}; groups: {', '.join(swap_set.groups)}"
            )
    # term key -> the target terms at each position where a source group lists it
    candidates: dict[str, list[str]] = {}
    for source, target_group in mapping.items():
        if source == target_group:
            continue
        target = swap_set.groups[target_group]
        kept = {swap_set.key(t) for t in target} - {
            swap_set.key(t) for g in mapping for t in swap_set.groups[g] if g != target_group
        }
        for position, term in enumerate(swap_set.groups[source]):
            key = swap_set.key(term)
            if key in kept:
                continue  # a word the target group uses too (and no source group claims) stays
            options = candidates.setdefault(key, [])
            if target[position] not in options:
                options.append(target[position])
    if not candidates:
        return text
    pattern = _pattern(swap_set, [t for g in mapping for t in swap_set.groups[g] if swap_set.key(t) in candidates])

    def replace_match(match: re.Match[str]) -> str:
        word = match.group("term")
        options = candidates[swap_set.key(word)]
        chosen = options[0]
        if len(options) > 1:
            following = _next_word(text, match.end())
            chosen = options[0] if following is None or following in _STANDALONE_BEFORE else options[1]
        replacement = _match_case(chosen, word)
        article = match.group("article")
        if article is None:
            return replacement
        # a/an by the replacement's first letter (the simple rule: "an hour" is not handled)
        fitting = "an" if replacement[:1].lower() in "aeiou" else "a"
        return (fitting.capitalize() if article[0] == "A" else fitting) + match.group("space") + replacement

    return pattern.sub(replace_match, text)


@dataclass(frozen=True)
class Variant:
    """The request rewritten by one swap of one category. ``group`` names the variant: the group the
    prompt now speaks of, or ``a<->b`` for an exchange (a prompt that mentions both)."""

    category: str
    group: str
    request: GenerationRequest
    mapping: tuple[tuple[str, str], ...]  # (from group, to group) pairs

    def inverse(self) -> dict[str, str]:
        return {to: source for source, to in self.mapping}


def _swap_request(request: GenerationRequest, swap_set: SwapSet, mapping: Mapping[str, str]) -> GenerationRequest:
    messages = None
    if request.messages is not None:
        messages = tuple(Message(m.role, swap(m.content, swap_set, mapping)) for m in request.messages)
    return replace(
        request,
        prompt=None if request.prompt is None else swap(request.prompt, swap_set, mapping),
        messages=messages,
        system=None if request.system is None else swap(request.system, swap_set, mapping),
    )


def request_text(request: GenerationRequest) -> str:
    """The request as the prompt lines of a failure show it."""
    return request.display_prompt()


def variants_of(
    request: GenerationRequest, categories: Sequence[str], swap_sets: Mapping[str, SwapSet]
) -> tuple[list[Variant], dict[str, list[str]]]:
    """Every variant of ``request`` for the named categories, and the groups found in the original
    per category. A prompt that speaks of one group gets a variant for each other group of the
    category; one that speaks of several gets, for each pair of them, a variant that exchanges the
    two ("the king and the queen" -> "the queen and the king"). Raises CounterfactualError for an
    unknown category or one with no term in the prompt."""
    variants: list[Variant] = []
    original_groups: dict[str, list[str]] = {}
    text = request_text(request)
    for category in categories:
        swap_set = swap_sets.get(category)
        if swap_set is None:
            raise CounterfactualError(
                f"unknown counterfactual category {category!r}; known: {', '.join(sorted(swap_sets))}"
            )
        found = groups_in(text, swap_set)
        if not found:
            raise CounterfactualError(
                f"the prompt has no term of category {category!r} to swap (groups: {', '.join(swap_set.groups)}); "
                f"add one, or a swap-set file with the terms it uses"
            )
        original_groups[category] = found
        swaps: list[tuple[tuple[str, str], ...]]
        if len(found) == 1:
            swaps = [((found[0], g),) for g in swap_set.groups if g != found[0]]
        else:
            swaps = [((a, b), (b, a)) for i, a in enumerate(found) for b in found[i + 1 :]]
        for mapping in swaps:
            name = mapping[0][1] if len(mapping) == 1 else f"{mapping[0][0]}<->{mapping[0][1]}"
            variant = _swap_request(request, swap_set, dict(mapping))
            if variant != request:
                variants.append(Variant(category, name, variant, mapping))
    return variants, original_groups
