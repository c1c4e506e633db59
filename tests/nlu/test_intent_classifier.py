"""How the intent classifier reads a follow-up with the message before it (no trained model).

A fake pipeline stands in for the n-gram and MiniLM model: it gives fixed probabilities for the
texts the tests send, so each test decides how sure the model is of the message alone and of the
two messages joined.
"""

from __future__ import annotations

import numpy as np
import pytest

from bot.nlu.intent_classifier import TfidfIntentClassifier

CLASSES = np.array(["ask_paternity_leave", "faq/shared_parental_leave", "ask_night_shifts"])
PREVIOUS = "how much paternity leave do i get"


class FakePipeline:
    classes_ = CLASSES

    def __init__(self, readings: dict[str, list[float]]) -> None:
        self.readings = readings

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return np.array([self.readings[t] for t in texts])


def classifier(readings: dict[str, list[float]], **config) -> TfidfIntentClassifier:
    return TfidfIntentClassifier(config, None, None, FakePipeline(readings))  # type: ignore[arg-type]


def top(probabilities: np.ndarray) -> str:
    return str(CLASSES[int(probabilities.argmax())])


def test_an_unclear_follow_up_takes_the_topic_of_the_message_before() -> None:
    model = classifier(
        {"and for twins?": [0.3, 0.2, 0.5], f"{PREVIOUS} and for twins?": [0.9, 0.05, 0.05]}
    )
    assert top(model.probabilities("and for twins?", PREVIOUS)) == "ask_paternity_leave"


def test_a_fairly_clear_follow_up_keeps_its_own_topic() -> None:
    text = "can we split it between us"
    model = classifier({text: [0.0, 0.69, 0.31], f"{PREVIOUS} {text}": [0.71, 0.16, 0.13]})
    probabilities = model.probabilities(text, PREVIOUS)
    assert top(probabilities) == "faq/shared_parental_leave"
    assert probabilities.sum() == pytest.approx(1.0)


def test_a_clear_message_is_not_read_with_the_one_before() -> None:
    text = "can we split it between us"
    model = classifier({text: [0.05, 0.9, 0.05]})  # the joined text is never asked for
    assert top(model.probabilities(text, PREVIOUS)) == "faq/shared_parental_leave"


def test_a_long_message_is_read_on_its_own() -> None:
    text = (
        "ok different question now, what hours should i be doing on nights when shes back at work"
    )
    model = classifier({text: [0.4, 0.1, 0.5]})
    assert top(model.probabilities(text, PREVIOUS)) == "ask_night_shifts"


@pytest.mark.parametrize(
    ("own", "expected"), [(0.2, 1.0), (0.5, 1.0), (0.6, 0.5), (0.7, 0.0), (0.9, 0.0)]
)
def test_the_weight_of_the_message_before_fades_as_the_message_grows_clear(
    own: float, expected: float
) -> None:
    assert classifier({})._fade(own) == pytest.approx(expected)


BOTTLE = "how do i make up a bottle of formula"
WATER_CLASSES = np.array(["ask_bathing", "ask_formula_prep", "faq/room_temperature"])


def water_classifier(readings: dict[str, list[float]]) -> TfidfIntentClassifier:
    pipeline = FakePipeline(readings)
    pipeline.classes_ = WATER_CLASSES
    return TfidfIntentClassifier({}, None, None, pipeline)  # type: ignore[arg-type]


def test_a_message_that_opens_like_a_follow_up_is_read_with_the_one_before() -> None:
    text = "and how hot should the water be"
    model = water_classifier({text: [0.7, 0.2, 0.1], f"{BOTTLE} {text}": [0.0, 0.97, 0.03]})
    reading = model.probabilities(text, BOTTLE)
    assert WATER_CLASSES[int(reading.argmax())] == "ask_formula_prep"


def test_the_same_words_without_the_opening_keep_their_own_reading() -> None:
    text = "how hot should the water be"
    model = water_classifier({text: [0.75, 0.2, 0.05], f"{BOTTLE} {text}": [0.0, 0.97, 0.03]})
    reading = model.probabilities(text, BOTTLE)
    assert WATER_CLASSES[int(reading.argmax())] == "ask_bathing"
