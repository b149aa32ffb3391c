"""The comparison's data contract: what CompareSolutions gathers (``ComparisonInput``) and what
report.json holds (``Report``). JSON field names are camelCase, like ``sweep_core.models``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from sweep_core.models import CamelModel, RecommendationPolicy, RunConfig, Sensitivity

REPORT_SCHEMA_VERSION = 1


class _Model(CamelModel):
    # NaN or infinity would break the charts' scales and is not valid JSON in report.json.
    model_config = ConfigDict(allow_inf_nan=False)


# ---------------------------------------------------------------------------------------------
# What CompareSolutions gathers
# ---------------------------------------------------------------------------------------------


class DatasetFacts(_Model):
    """Row counts of the imported data, shown as the run's facts."""

    interactions: int = Field(ge=0)
    users: int = Field(ge=0)
    items: int = Field(ge=0)


class DeploymentDecision(_Model):
    """What DeployCampaign did for a level: created a campaign, moved it to the new version, or kept
    the version it served (retrain mode, when the quality gate failed)."""

    action: Literal["created", "updated", "kept"]
    reason: str = ""


class LevelError(_Model):
    """A failed level's error record, as the Map iteration's Catch put it (Step Functions names)."""

    error: str
    cause: str = ""


class LevelResources(_Model):
    """A level and what it created in Personalize (None where it got no further): the fields the
    Map iteration's record, the comparison's outcome and the report's level all start with."""

    sensitivity: Sensitivity
    status: Literal["ACTIVE", "FAILED"]
    solution_arn: str | None = None
    solution_version_arn: str | None = None
    campaign_arn: str | None = None


class LevelOutcome(LevelResources):
    """One sensitivity's result from the Map fan-out."""

    metrics: dict[str, float] = Field(
        default_factory=dict, description="GetSolutionMetrics keys (coverage, precision_at_10, ...) -> value."
    )
    training_hours: float | None = Field(default=None, ge=0)
    deployment: DeploymentDecision | None = None
    error: LevelError | None = None


class ComparisonInput(_Model):
    """Everything the report is computed from; ``build_report`` needs nothing else."""

    experiment: str
    execution_arn: str
    execution_name: str
    started_at: datetime
    finished_at: datetime | None = None
    config: RunConfig
    dataset: DatasetFacts
    levels: list[LevelOutcome]
    recommendations: dict[Sensitivity, dict[str, list[str]]] = Field(
        default_factory=dict,
        description="Per sensitivity, each report user's top-K item ids in rank order. The first user "
        "is the sample user unless config.sampleUsers names them.",
    )
    item_objective: dict[str, float] = Field(
        default_factory=dict, description="Objective value of every item that appears in any list."
    )
    item_titles: dict[str, str] = Field(default_factory=dict, description="Optional item id -> title.")
    dropped_users: dict[Sensitivity, int] = Field(
        default_factory=dict,
        description="Per sensitivity, report users left out because their lists could not be fetched.",
    )
    cleanup_command: str = Field(default="", description="The command that removes the experiment.")
    versions: dict[str, str] = Field(
        default_factory=dict,
        description="Software and service versions worth recording, e.g. objectiveSweep, recipe, endpoint.",
    )

    @model_validator(mode="after")
    def _one_outcome_per_level(self) -> ComparisonInput:
        seen = [level.sensitivity for level in self.levels]
        twice = sorted({s for s in seen if seen.count(s) > 1})
        if twice:
            raise ValueError(
                f"levels lists {', '.join(twice)} more than once; give one outcome per sensitivity"
            )
        stray = sorted(set(self.recommendations) - set(seen))
        if stray:
            raise ValueError(f"recommendations has lists for {', '.join(stray)}, which is not in levels")
        return self


# ---------------------------------------------------------------------------------------------
# report.json
# ---------------------------------------------------------------------------------------------


class LevelReport(LevelOutcome):
    """One sensitivity in the report: its outcome, business metric and changes against OFF."""

    mean_top_k_objective_sum: float | None = Field(
        description="Mean over the report users of the sum of the objective over their top-K; None "
        "when the level produced no lists."
    )
    users_scored: int = Field(description="Report users whose lists went into meanTopKObjectiveSum.")
    users_dropped: int = Field(
        default=0, description="Report users left out: the campaign kept refusing their requests."
    )
    changes_vs_off: dict[str, float | None] = Field(
        description="Relative change against OFF, (level - OFF) / |OFF|, per metric and for "
        "meanTopKObjectiveSum; None when either side is missing or OFF is 0; empty for OFF itself."
    )

    @model_serializer(mode="wrap")
    def _figures_after_status(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """report.json keeps the order it has had since schema version 1: the level and its status,
        its figures (the metrics, then the fields above), then what it created. Inheritance alone
        would put these fields last and the metrics after the ARNs."""
        data = handler(self)
        figures = [key for key in data if key in _FIGURES]
        rest = [key for key in data if key not in _FIGURES]
        at = next((i for i, key in enumerate(rest) if key not in ("sensitivity", "status")), len(rest))
        return {key: data[key] for key in [*rest[:at], *figures, *rest[at:]]}


# LevelReport's figures by field name and JSON name, whichever a dump uses.
_FIGURES = frozenset(
    key
    for name, field in LevelReport.model_fields.items()
    if name == "metrics" or name not in LevelOutcome.model_fields
    for key in (name, field.alias)
)


class RankedItem(_Model):
    """One row of a sample user's list."""

    rank: int = Field(ge=1)
    item_id: str
    title: str
    objective: float | None = Field(description="The item's objective value; None if unknown.")
    off_rank: int | None = Field(description="Rank of the same item in OFF's list; None if absent there.")


class SampleList(_Model):
    """A sample user's ranked list under one sensitivity (one column of the original study's table)."""

    sensitivity: Sensitivity
    items: list[RankedItem]
    objective_sum: float


class SampleUser(_Model):
    user_id: str
    lists: list[SampleList]


class PolicyCandidate(_Model):
    """How the policy judged one level: the numbers behind the recommendation."""

    sensitivity: Sensitivity
    business_value: float | None = Field(description="meanTopKObjectiveSum.")
    relevance_value: float | None = Field(description="The policy's relevance metric.")
    relevance_loss: float | None = Field(
        description="(OFF - level) / OFF on the relevance metric; negative is a gain."
    )
    eligible: bool
    reason: str = Field(description="Why the level is or is not eligible, in a few words.")


class Recommendation(_Model):
    """The level to ship, by the stated policy; ``sensitivity`` is None when no level qualifies."""

    sensitivity: Sensitivity | None
    sentence: str
    policy: RecommendationPolicy
    business_metric: Literal["meanTopKObjectiveSum"] = "meanTopKObjectiveSum"
    candidates: list[PolicyCandidate]


class CampaignCost(_Model):
    sensitivity: Sensitivity
    campaign_arn: str
    min_provisioned_tps: int
    monthly_usd: float


class CostEstimate(_Model):
    """Monthly cost of the campaigns left running (RunConfig.keep) and the one-off training cost.

    campaign monthly USD = minProvisionedTPS x hoursPerMonth x campaignTpsHourPrice;
    training USD = sum of the levels' training hours x trainingHourPrice.
    """

    keep: Literal["all", "recommended", "none"]
    hours_per_month: float
    campaign_tps_hour_price: float
    training_hour_price: float
    campaigns: list[CampaignCost] = Field(
        description="The campaigns left running, those of failed levels included: what cleanup removes."
    )
    campaigns_monthly_usd: float
    recommended_only_monthly_usd: float | None = Field(
        default=None,
        description="What keep=recommended would cost per month, when the run leaves more campaigns running.",
    )
    training_hours: float
    training_usd: float
    cleanup_command: str = Field(default="", description="The command that removes the experiment.")


class Failure(_Model):
    sensitivity: Sensitivity
    error: str
    cause: str


class RunFacts(_Model):
    experiment: str
    execution_arn: str
    execution_name: str
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    mode: Literal["sweep", "retrain"]
    objective: str
    recipe: str
    k: int = Field(description="Length of the lists (RunConfig.numResults).")
    report_users: int = Field(description="Users whose lists were scored.")
    dataset: DatasetFacts
    versions: dict[str, str]


class Report(_Model):
    """report.json."""

    schema_version: int = REPORT_SCHEMA_VERSION
    run: RunFacts
    levels: list[LevelReport]
    samples: list[SampleUser]
    recommendation: Recommendation
    cost: CostEstimate
    failures: list[Failure]
