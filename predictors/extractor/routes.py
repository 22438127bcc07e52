"""The tutorial's route, served by the same model: POST /extract-course-name/ {"text": "..."}."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from predictors.common.metrics import label_requests
from predictors.common.payload import documented_body, ready_body
from predictors.extractor.model import CourseExtractor
from predictors.extractor.schema import ExtractInstance


def seed_router(model: CourseExtractor) -> APIRouter:
    router = APIRouter(tags=["tutorial"], dependencies=[Depends(label_requests(model.name))])

    @router.post(
        "/extract-course-name/",
        summary="Course names found in the text (the tutorial's contract)",
        openapi_extra=documented_body(ExtractInstance),  # the same shape as a V1 instance
    )
    # Also without the slash, answered here: a redirect would make many clients resend a GET.
    @router.post("/extract-course-name", include_in_schema=False)
    async def extract_course_name(request: Request) -> dict[str, list[str]]:
        text = model.validate_text(await ready_body(request, model))
        # The V1 path itself (preprocess, admission, batcher, postprocess), one instance.
        (prediction,) = (await model({"instances": [{"text": text}]}))[0]["predictions"]
        return {"extracted_course_names": [span["text"] for span in prediction["courses"]]}

    return router
