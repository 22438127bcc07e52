"""The tutorial's route, served by the same model: POST /extract-course-name/ {"text": "..."}."""

from __future__ import annotations

from fastapi import APIRouter, Request
from kserve.errors import ModelNotReady

from predictors.common.payload import decode_json
from predictors.extractor.model import CourseExtractor
from predictors.extractor.schema import ExtractInstance


def seed_router(model: CourseExtractor) -> APIRouter:
    router = APIRouter(tags=["tutorial"])

    @router.post(
        "/extract-course-name/",
        summary="Course names found in the text (the tutorial's contract)",
        # The body is parsed by hand so a bare `curl -d` (form content type) works too;
        # this keeps the documented schema the same as a V1 instance.
        openapi_extra={"requestBody": {"required": True, "content": {
            "application/json": {"schema": ExtractInstance.model_json_schema()}}}},
    )
    async def extract_course_name(request: Request) -> dict[str, list[str]]:
        if not model.ready:
            raise ModelNotReady(model.name)
        text = model.validate_text(decode_json(await request.body()))
        spans = (await model.run([text]))[0]
        return {"extracted_course_names": [s.text for s in spans]}

    return router
