"""The run contract: what a user asks a sweep to do, validated once by the workflow's first step.

Every trigger (S3 upload, console/CLI execution, retraining schedule) is normalised into one
``RunConfig``. JSON field names are camelCase, like the AWS APIs the config feeds.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

Sensitivity = Literal["OFF", "LOW", "MEDIUM", "HIGH"]
ALL_SENSITIVITIES: tuple[Sensitivity, ...] = ("OFF", "LOW", "MEDIUM", "HIGH")

# GetSolutionMetrics keys, in the order the original study's table lists them.
MetricName = Literal[
    "coverage",
    "mean_reciprocal_rank_at_25",
    "normalized_discounted_cumulative_gain_at_5",
    "normalized_discounted_cumulative_gain_at_10",
    "normalized_discounted_cumulative_gain_at_25",
    "precision_at_5",
    "precision_at_10",
    "precision_at_25",
    "average_rewards_at_k",
]
METRIC_NAMES: tuple[MetricName, ...] = get_args(MetricName)
# The relevance both the recommendation policy and the retraining quality gate guard by default.
RELEVANCE_METRIC: MetricName = "normalized_discounted_cumulative_gain_at_10"
# A relative change that is acceptable, from 0 to 1 (0.05 = 5%).
Tolerance = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]

# The recipe the sweep trains: its solutionConfig accepts an optimizationObjective and its campaigns
# answer GetRecommendations, which the comparison calls.
DEFAULT_RECIPE = "aws-user-personalization"
# Accepts an objective too, but its campaigns only rank a list the caller supplies per user.
RANKING_RECIPE = "aws-personalized-ranking"
_RECIPE_ARN = re.compile(r"^arn:[a-z-]+:personalize:::recipe/(?P<name>[a-zA-Z0-9-]+)$")

# Personalize names allow [a-zA-Z0-9][a-zA-Z0-9\-_]* up to 63 characters. Resource names are the
# experiment name plus a suffix of at most 23 characters (e.g. "-solution-medium"), so the experiment
# name itself is kept to 40.
EXPERIMENT_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,39}$")
# Avro field names, which Personalize schema columns must be.
COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,149}$")
RESERVED_COLUMNS = frozenset({"USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE"})


class CamelModel(BaseModel):
    """The base of every model on the wire: camelCase JSON, snake_case Python, unknown fields refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class RecommendationPolicy(CamelModel):
    """How the report picks the level to ship."""

    relevance_metric: MetricName = Field(
        default=RELEVANCE_METRIC,
        description="Personalize offline metric whose loss against OFF is bounded by the tolerance.",
    )
    tolerance: Tolerance = Field(
        default=0.05,
        description="Largest relative loss of relevanceMetric against OFF that is acceptable (0.05 = 5%).",
    )


class QualityGate(CamelModel):
    """When a retrained solution version may replace the one a campaign serves."""

    metric: MetricName = Field(
        default=RELEVANCE_METRIC,
        description="Personalize offline metric compared between the new and the deployed version.",
    )
    tolerance: Tolerance = Field(
        default=0.02,
        description="Largest relative drop of the metric that still lets the new version deploy.",
    )


class RunConfig(CamelModel):
    """One sweep: the data, the objective, the levels to train, and what to do with the result."""

    experiment: str = Field(
        description="Experiment name; every Personalize resource name is derived from it (idempotency key)."
    )
    interactions: str = Field(
        description="Interactions CSV (USER_ID, ITEM_ID, TIMESTAMP): s3:// URI, or a key relative to the run file."
    )
    items: str = Field(
        description="Items CSV (ITEM_ID, the objective column, optional categorical columns): s3:// URI or relative key."
    )
    users: str | None = Field(default=None, description="Optional users CSV (USER_ID, attributes).")
    titles: str | None = Field(
        default=None,
        description="Optional ITEM_ID,TITLE CSV used only to make the report readable; never sent to Personalize.",
    )
    objective: str = Field(
        default="ROYALTY",
        description="Numeric, non-null items column that Personalize should maximise.",
    )
    sensitivities: Annotated[list[Sensitivity], Field(min_length=1, max_length=4)] = Field(
        default_factory=lambda: list(ALL_SENSITIVITIES),
        description="Objective sensitivities to train, one solution and campaign each.",
    )
    recipe: str = Field(
        default=DEFAULT_RECIPE,
        description="Recipe name, or its ARN in any partition; the sweep trains aws-user-personalization.",
    )
    mode: Literal["sweep", "retrain"] = Field(
        default="sweep",
        description="sweep: import, train and deploy every level; retrain: new FULL versions on the existing "
        "solutions, each campaign moved only if the quality gate passes.",
    )
    perform_auto_training: bool = Field(
        default=False,
        description="Let Personalize retrain every 7 days on its own (billed); off unless asked for.",
    )
    # strict: true or 1.0 is not a count (JSON true would otherwise be taken as 1).
    min_provisioned_tps: int = Field(
        default=1,
        ge=1,
        le=500,
        strict=True,
        alias="minProvisionedTPS",
        description="Each campaign's minProvisionedTPS.",
    )
    num_results: int = Field(
        default=25, ge=1, le=500, strict=True, description="Length of the lists in the report (K)."
    )
    report_users: int = Field(
        default=100,
        strict=True,
        ge=1,
        le=1000,
        description="Users whose top-K lists are averaged for meanTopKObjectiveSum.",
    )
    sample_users: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="Users whose ranked lists are shown in the report; empty = the first report user.",
    )
    policy: RecommendationPolicy = Field(default_factory=RecommendationPolicy)
    quality_gate: QualityGate = Field(default_factory=QualityGate)
    keep: Literal["all", "recommended", "none"] = Field(
        default="recommended",
        description="Campaigns left running when the run ends: every level is deployed for the comparison, "
        "then recommended keeps only the recommended level's campaign, all keeps every one, none keeps none.",
    )
    campaign_tps_hour_price: float = Field(
        default=0.2,
        ge=0,
        allow_inf_nan=False,
        description="USD per TPS-hour of a campaign, for the cost estimate (check your region's price).",
    )
    training_hour_price: float = Field(
        default=0.24, ge=0, allow_inf_nan=False, description="USD per training hour, for the cost estimate."
    )

    @field_validator("experiment")
    @classmethod
    def _experiment_name(cls, value: str) -> str:
        if not EXPERIMENT_NAME.match(value):
            raise ValueError(
                f"{value!r} is not a usable experiment name — it must start with a letter or digit, use only "
                "letters, digits, '-' and '_', and be at most 40 characters (Personalize resource names are "
                "derived from it)"
            )
        return value

    @field_validator("objective")
    @classmethod
    def _objective_column(cls, value: str) -> str:
        if not COLUMN_NAME.match(value):
            raise ValueError(
                f"{value!r} is not a column name — use letters, digits and '_', not starting with a digit"
            )
        if value.upper() in RESERVED_COLUMNS:
            raise ValueError(
                f"{value} is a reserved Personalize column, not an items column — name a numeric column "
                "of the items file (e.g. ROYALTY, PRICE, MARGIN)"
            )
        return value

    @field_validator("sensitivities")
    @classmethod
    def _unique_levels(cls, value: list[Sensitivity]) -> list[Sensitivity]:
        if len(set(value)) != len(value):
            raise ValueError("a sensitivity is listed twice — list each level once")
        return value

    @field_validator("recipe")
    @classmethod
    def _objective_recipe(cls, value: str) -> str:
        match = _RECIPE_ARN.match(value)
        name = match.group("name") if match else value
        if name == RANKING_RECIPE:
            raise ValueError(
                f"{RANKING_RECIPE} only re-ranks a list of items you supply for each user, while the sweep "
                "compares the levels by what each campaign recommends (GetRecommendations) — "
                f"use {DEFAULT_RECIPE}"
            )
        if name != DEFAULT_RECIPE:
            raise ValueError(
                f"objective optimization is swept with {DEFAULT_RECIPE}, not {name} — use {DEFAULT_RECIPE}"
            )
        return name

    @model_validator(mode="after")
    def _sample_users_unique(self) -> RunConfig:
        if len(set(self.sample_users)) != len(self.sample_users):
            raise ValueError("sampleUsers lists a user twice — list each user once")
        return self


def run_config_schema_json() -> str:
    """The published JSON schema of RunConfig (schema/run-config.schema.json; a test keeps them equal).
    Regenerate: python -c "from sweep_core.models import run_config_schema_json as s; print(s(), end='')"
    > schema/run-config.schema.json"""
    schema = RunConfig.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2) + "\n"
