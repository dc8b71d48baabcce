"""Success modes: what a good answer to an account question must contain.

Each test names its prompt in @pytest.mark.llm; every such prompt is known before the session runs.
The llm_output fixture is the model's answer (a str with .num_tokens, .finish_reason, .latency_s).
"""

import pytest


@pytest.mark.success_mode
@pytest.mark.llm(prompt="How do I reset my password?")
def test_reset_password(llm_output):
    assert "Forgot Password" in llm_output
    assert llm_output.finish_reason == "stop"  # it ended its answer, not the token limit


@pytest.mark.success_mode
@pytest.mark.llm(prompt="How do I enable two-factor authentication?")
def test_two_factor(llm_output):
    assert "Security" in llm_output


@pytest.mark.success_mode
@pytest.mark.parametrize(
    ("question", "place"),
    [
        ("How do I change my email address?", "Settings"),
        ("Where can I download my invoices?", "Billing"),
        ("How do I cancel my subscription?", "Billing"),
        ("How do I invite a team member?", "Team"),
    ],
)
def test_answers_point_to_the_right_page(llm, question, place):
    assert place in llm.generate(question)


@pytest.mark.success_mode
def test_answers_are_short(llm):
    questions = ["How do I contact support?", "What are your opening hours?", "How do I update my credit card?"]
    for answer in llm.generate_many(questions):
        assert answer.num_tokens <= 40, answer
