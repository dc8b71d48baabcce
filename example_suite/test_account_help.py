"""Success modes: what a good answer to an account question must contain.

Each test names its prompt in @pytest.mark.llm; every such prompt is known before the session runs.
The llm_output fixture is the model's answer (a str with .num_tokens, .finish_reason, .latency_s).
"""

import pytest

from pytest_llmeval import assert_contains, assert_contains_any, assert_length, assert_not_garbled


@pytest.mark.success_mode
@pytest.mark.llm(prompt="How do I reset my password?")
def test_reset_password(llm_output):
    assert_contains_any(llm_output, ["Forgot Password", "reset link"])
    assert_not_garbled(llm_output)
    assert llm_output.finish_reason == "stop"  # it ended its answer, not the token limit


@pytest.mark.success_mode
@pytest.mark.llm(prompt="How do I enable two-factor authentication?")
def test_two_factor(llm_output):
    assert_contains(llm_output, "Security")


@pytest.mark.success_mode
@pytest.mark.parametrize(
    ("question", "place"),
    [
        # short ids: they name each case in every report (the default id would be the whole question)
        pytest.param("How do I change my email address?", "Settings", id="change-email"),
        pytest.param("Where can I download my invoices?", "Billing", id="invoices"),
        pytest.param("How do I cancel my subscription?", "Billing", id="cancel"),
        pytest.param("How do I invite a team member?", "Team", id="invite"),
    ],
)
def test_answers_point_to_the_right_page(llm, question, place):
    assert_contains(llm.generate(question), place)


@pytest.mark.success_mode
def test_answers_are_short(llm):
    questions = ["How do I contact support?", "What are your opening hours?", "How do I update my credit card?"]
    for answer in llm.generate_many(questions):
        assert_length(answer, max=40, unit="tokens")  # counted by the model's own tokenizer
