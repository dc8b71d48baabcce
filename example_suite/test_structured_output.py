"""Success modes on format: JSON extraction and sentiment labels."""

import json

import pytest

USERS = [("Ann", 31), ("Bob", 45), ("Carla", 27), ("Dev", 52)]


@pytest.mark.success_mode
@pytest.mark.parametrize(("name", "age"), USERS)
def test_extracts_the_user_as_json(llm, name, age):
    output = llm.generate(f"Extract the user as JSON: {name} is {age} years old.")
    assert json.loads(output) == {"name": name, "age": age}


SENTIMENTS = [
    ("The new dashboard is fantastic!", "positive"),
    ("Support solved my problem in minutes.", "positive"),
    ("The app crashes every time I log in.", "negative"),
    ("Billing charged me twice, this is terrible.", "negative"),
    ("The invoice arrived on Tuesday.", "neutral"),
]


@pytest.mark.success_mode
def test_sentiment_labels(llm):
    # One batched call for the whole group, then one assertion per case with its own message.
    answers = llm.generate_many([f"Sentiment of: {text}" for text, _ in SENTIMENTS], max_new_tokens=4)
    wrong = [(text, gold, str(a)) for (text, gold), a in zip(SENTIMENTS, answers) if a != gold]
    assert not wrong, f"{len(wrong)}/{len(SENTIMENTS)} labels wrong: {wrong}"
