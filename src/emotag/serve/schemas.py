"""Request and response bodies of the JSON API (pydantic models, shown in /openapi.json).

The request model is built per app by :func:`predict_request_model` because its limits
(texts per request, characters per text) are settings. Fields are strict: ``"0.5"`` is not a
threshold and ``1`` is not ``true``, so a client bug is reported instead of guessed at.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Taxonomy = Literal["goemotions", "ekman", "sentiment"]


def predict_request_model(max_texts: int, max_chars: int) -> type[BaseModel]:
    """The ``POST /v1/predict`` body with these limits."""
    # pydantic rejects unpaired surrogates (JSON can carry them, no tokenizer can take them)
    text = Annotated[str, StringConstraints(max_length=max_chars)]

    class PredictRequest(BaseModel):
        """Texts to tag, and how to decide and report their labels."""

        model_config = ConfigDict(extra="forbid", strict=True)

        texts: list[text] = Field(
            min_length=1, max_length=max_texts,
            description=f"1 to {max_texts} texts of at most {max_chars} characters each.")
        threshold: float | None = Field(
            default=None, ge=0.0, le=1.0, allow_inf_nan=False,
            description="One threshold for every label instead of the model's tuned ones.")
        top_k: int | None = Field(default=None, ge=1,
                                  description="Keep at most this many labels per text.")
        taxonomy: Taxonomy = Field(default="goemotions",
                                   description="Report GoEmotions labels or their groups.")
        explain: bool = Field(default=False,
                              description="Add the words behind each predicted label.")
        all_scores: bool = Field(default=False, description="Add every label's score.")

    return PredictRequest


class LabelScore(BaseModel):
    """A predicted label: its score and the threshold it reached."""

    label: str
    score: float
    threshold: float


class TokenWeight(BaseModel):
    """A word of the text and how much it moved a label's score (``text[start:end]``)."""

    token: str
    weight: float = Field(description="score with the word minus score without it")
    start: int
    end: int


class PredictResult(BaseModel):
    """One text's answer."""

    labels: list[LabelScore] = Field(description="Predicted labels, highest score first.")
    scores: dict[str, float] | None = Field(
        default=None, description="Every label's score (when all_scores).")
    explanations: dict[str, list[TokenWeight]] | None = Field(
        default=None, description="Per predicted label, its words, strongest first (explain).")


class PredictResponse(BaseModel):
    """Answers in the order of the request's texts."""

    model: str
    taxonomy: Taxonomy
    results: list[PredictResult]


class LabelsResponse(BaseModel):
    """The label set, the model's thresholds and the groupings its labels allow."""

    labels: list[str]
    thresholds: dict[str, float]
    taxonomies: dict[str, dict[str, list[str]]] = Field(
        description="Per grouping (ekman, sentiment) the model's labels allow, each group's "
        "member labels; empty for a model with its own label names.")
    group_thresholds: dict[str, dict[str, float]] = Field(
        description="Per grouping, each group's threshold (a group is predicted when its "
        "score reaches it).")


class HealthResponse(BaseModel):
    status: Literal["ok"]
    model: str


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorResponse(BaseModel):
    """Every error: one readable sentence, plus the individual problems of a 422."""

    detail: str
    errors: list[ErrorItem] | None = None
