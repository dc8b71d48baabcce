"""Metrics: numbers over one output (ROUGE, BLEU, chrF, perplexity, judge score) or over a group of
cases (accuracy, F1). Every score is on 0..1 except perplexity (>= 1, lower is better) and the judge
score (1..5). Importing this package registers the metric checks (``rouge_1``, ``rouge_2``,
``rouge_l``, ``rouge_lsum``, ``bleu``, ``chrf``, ``perplexity``, ``judge``, ``preferred_over``, ``ner``, ``no_memorisation``); it
imports no heavy library: rouge_score, sacrebleu and torch load on first use.

A metric check's ``CheckResult.details["metric"]`` is ``{"name", "value", "higher_is_better"}``.
"""

from __future__ import annotations

# The modules import pytest_llmeval.checks.base (not pytest_llmeval.checks), because
# pytest_llmeval.checks imports this package at its end to register these checks.
from pytest_llmeval.metrics import (
    classification,
    judge,
    memorisation,
    ner,
    perplexity_scoring,
    reference,
)
from pytest_llmeval.metrics.classification import (
    UNMAPPED,
    ClassificationReport,
    accuracy,
    classification_report,
    classification_result,
    confusion_matrix,
    map_label,
    map_labels,
)
from pytest_llmeval.metrics.judge import (
    Judge,
    JudgeParseError,
    JudgeScore,
    PairwiseResult,
    active_judge,
    build_judge_prompt,
    build_pairwise_prompt,
    judge_pairwise,
    judge_pairwise_many,
    judge_score,
    parse_choice,
    parse_score,
    score_from_logprobs,
    using_judge,
    win_rate,
)
from pytest_llmeval.metrics.perplexity_scoring import (
    PerplexityResult,
    PerplexityScorer,
    active_perplexity_scorer,
    conditional_perplexity,
    perplexity_of_file,
    perplexity_scorer,
    using_output_perplexity_scorer,
    using_perplexity_scorer,
)
from pytest_llmeval.metrics.perplexity_scoring import perplexity as compute_perplexity
from pytest_llmeval.metrics.reference import (
    RougeScore,
    corpus_bleu,
    corpus_chrf,
    rouge,
    sentence_bleu,
    sentence_chrf,
)

__all__ = [
    "UNMAPPED",
    "ClassificationReport",
    "Judge",
    "JudgeParseError",
    "JudgeScore",
    "PairwiseResult",
    "PerplexityResult",
    "PerplexityScorer",
    "RougeScore",
    "accuracy",
    "active_judge",
    "active_perplexity_scorer",
    "build_judge_prompt",
    "build_pairwise_prompt",
    "classification",
    "classification_report",
    "classification_result",
    "judge_pairwise",
    "judge_pairwise_many",
    "compute_perplexity",
    "conditional_perplexity",
    "confusion_matrix",
    "corpus_bleu",
    "corpus_chrf",
    "judge",
    "judge_score",
    "map_label",
    "map_labels",
    "memorisation",
    "ner",
    "parse_choice",
    "parse_score",
    "perplexity_scoring",
    "perplexity_of_file",
    "perplexity_scorer",
    "reference",
    "rouge",
    "score_from_logprobs",
    "sentence_bleu",
    "sentence_chrf",
    "using_judge",
    "using_output_perplexity_scorer",
    "using_perplexity_scorer",
    "win_rate",
]
