"""Success modes on format: JSON extraction and sentiment labels."""

import pydantic
import pytest

from pytest_llmeval import assert_one_of, assert_pydantic


class User(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    name: str
    age: int = pydantic.Field(ge=0, le=130)


USERS = [("Ann", 31), ("Bob", 45), ("Carla", 27), ("Dev", 52)]


@pytest.mark.success_mode
@pytest.mark.parametrize(("name", "age"), USERS)
def test_extracts_the_user_as_json(llm, name, age):
    user = assert_pydantic(llm.generate(f"Extract the user as JSON: {name} is {age} years old."), User)
    assert (user.name, user.age) == (name, age)


SENTIMENTS = [
    ("The new dashboard is fantastic!", "positive"),
    ("Support solved my problem in minutes.", "positive"),
    ("The app crashes every time I log in.", "negative"),
    ("Billing charged me twice, this is terrible.", "negative"),
    ("The invoice arrived on Tuesday.", "neutral"),
]


@pytest.mark.success_mode
def test_sentiment_labels(llm):
    # One batched call for the whole group, then a check per case.
    answers = llm.generate_many([f"Sentiment of: {text}" for text, _ in SENTIMENTS], max_new_tokens=4)
    labels = [assert_one_of(answer, ["positive", "negative", "neutral"]) for answer in answers]
    assert labels == [gold for _, gold in SENTIMENTS]
