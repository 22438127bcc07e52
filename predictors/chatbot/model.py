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
from predictors.chatbot.streaming import StreamResult, StreamSink, stream
from predictors.common.payload import parse_instances, v2_strings, validate
from predictors.common.runtime import BATCHED, Runtime, RuntimeOptions


@dataclass
class StreamJob:
    """A streamed reply: its prompt, settings, and the sink its text goes to."""

    prompt: list[int]
    settings: Settings
    sink: StreamSink
    seed: int | None = None


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

    def load(self) -> bool:
        self.dialogue = DialogueModel(self.model_dir, self.device_choice)
        self.card = model_card(self.model_dir, self.dialogue.model, self.model_id)
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

    def generate(self, items: list[tuple[list[int], ChatInstance] | StreamJob]) -> list[str | StreamResult]:
        """The forward: one output per item. (prompt, instance) pairs (V1, V2, /chat) get a guarded
        reply, stream jobs (the OpenAI routes) a streamed one; items with equal settings generate
        together as one left-padded batch."""
        groups: dict[tuple, list[int]] = defaultdict(list)
        for index, item in enumerate(items):
            if isinstance(item, StreamJob):
                groups[("stream", item.settings.effective(), item.seed)].append(index)
            else:
                settings = Settings(**{f.name: getattr(item[1], f.name) for f in fields(Settings)})
                groups[("reply", settings.effective(), None)].append(index)
        outputs: list[str | StreamResult] = [""] * len(items)
        for (kind, settings, seed), indices in groups.items():
            if kind == "stream":
                jobs = [items[i] for i in indices]
                results = stream(self.dialogue, [j.prompt for j in jobs], settings, [j.sink for j in jobs], seed)
            else:
                results = self.dialogue.generate([items[i][0] for i in indices], settings)
            for index, result in zip(indices, results, strict=True):
                outputs[index] = result
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
