"""DialoGPT chatbot as a KServe custom predictor: multi-turn, stateless, batched.

V1  POST /v1/models/chatbot:predict
    {"instances": [{"message": "how are you?", "history": ["hi", "hello!"]}]}
 →  {"predictions": [{"response": "I am doing well.", "history": ["hi", "hello!", "how are you?", "I am doing well."]}]}
V2  POST /v2/models/chatbot/infer  with a BYTES input "message" (one per conversation, no history);
    output "response" (BYTES), request id echoed.
The server keeps no conversation state: history travels with each request, so any replica answers.
GET /v1/models/chatbot adds the model card (name, parameters, offline demo or not) to readiness.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field, fields, replace

from kserve import Model
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse

from predictors.chatbot.card import model_card
from predictors.chatbot.generation import DialogueModel, PromptTooLong, Settings
from predictors.chatbot.schema import DEFAULT_MAX_MESSAGE_CHARS, ChatInstance
from predictors.chatbot.streaming import StreamEngine
from predictors.common.payload import parse_instances, v2_strings, validate
from predictors.common.runtime import BATCHED, Runtime, RuntimeOptions


@dataclass
class Batch:
    instances: list[ChatInstance]
    prompts: list[list[int]]
    v2_request_id: str | None = None
    responses: list[str] = field(default_factory=list)


class Chatbot(Model):
    def __init__(
        self,
        name: str,
        model_dir: str,
        device: str = "auto",
        max_batch_size: int = 64,
        max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS,
        model_id: str | None = None,
        runtime: RuntimeOptions = BATCHED,
    ):
        super().__init__(name)
        self.model_dir = model_dir
        self.model_id = model_id  # the hub id shown to users when the dir carries no card
        self.card: dict | None = None
        self.device_choice = device
        self.max_batch_size = max_batch_size
        self.context = {"max_message_chars": max_message_chars}
        # Concurrent requests share one generate call (generate() keeps settings apart), on the
        # inference thread, behind admission.
        self.runtime = Runtime(name, self.generate, runtime)
        self.dialogue: DialogueModel | None = None
        self.streams: StreamEngine | None = None  # the OpenAI route's streams (streaming.py)

    def load(self) -> bool:
        self.dialogue = DialogueModel(self.model_dir, self.device_choice)
        self.card = model_card(self.model_dir, self.dialogue.model, self.model_id)
        # Streams decode on the same inference thread, in slices between the V1 batches.
        self.streams = StreamEngine(self.dialogue, self.runtime.executor, self.name, max_rows=self.max_batch_size)
        self.ready = True  # readiness (GET /v1/models/<name>) answers 200 from here on
        return self.ready

    def instance(self, data, where: str = "") -> ChatInstance:
        return validate(ChatInstance, data, where, self.context)

    def prompt(self, instance: ChatInstance, where: str = "") -> list[int]:
        try:
            return self.dialogue.prompt_ids(instance.history, instance.message, instance.max_new_tokens)
        except PromptTooLong as exc:
            raise InvalidInput(f"{where}{exc}") from None

    async def preprocess(self, payload: dict | bytes | InferRequest, headers: dict | None = None) -> Batch:
        if isinstance(payload, InferRequest):
            instances = self._v2_instances(payload)
            request_id = payload.id or str(uuid.uuid4())
        else:
            instances = parse_instances(payload, ChatInstance, self.max_batch_size, self.context)
            request_id = None
        prompts = [self.prompt(inst, f"instances[{i}]: ") for i, inst in enumerate(instances)]
        return Batch(instances, prompts, request_id)

    def _v2_instances(self, request: InferRequest) -> list[ChatInstance]:
        texts = v2_strings(request, "message", self.max_batch_size)
        return [self.instance({"message": t}, f"message[{i}].") for i, t in enumerate(texts)]

    def generate(self, items: list[tuple[list[int], ChatInstance]]) -> list[str]:
        """The forward: one guarded reply per (prompt, instance) pair (V1, V2, /chat); pairs with
        equal settings generate together as one left-padded batch."""
        groups: dict[Settings, list[int]] = defaultdict(list)
        for index, (_, instance) in enumerate(items):
            settings = Settings(**{f.name: getattr(instance, f.name) for f in fields(Settings)})
            groups[settings.effective()].append(index)
        outputs = [""] * len(items)
        for settings, indices in groups.items():
            replies = self.dialogue.generate([items[i][0] for i in indices], settings)
            for index, reply in zip(indices, replies, strict=True):
                outputs[index] = reply
        return outputs

    async def predict(self, batch: Batch, headers: dict | None = None) -> Batch:
        pairs = list(zip(batch.prompts, batch.instances, strict=True))
        return replace(batch, responses=await self.runtime.infer(pairs))

    async def postprocess(
        self, batch: Batch, headers: dict | None = None, response_headers: dict | None = None
    ) -> dict | InferResponse:
        if batch.v2_request_id is not None:
            output = InferOutput(name="response", shape=[len(batch.responses)], datatype="BYTES", data=batch.responses)
            return InferResponse(response_id=batch.v2_request_id, model_name=self.name, infer_outputs=[output])
        return {
            "predictions": [
                {"response": reply, "history": [*inst.history, inst.message, reply]}
                for inst, reply in zip(batch.instances, batch.responses, strict=True)
            ]
        }
