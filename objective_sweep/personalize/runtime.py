"""personalize-runtime: GetRecommendations and GetPersonalizedRanking, answered by the model of the
solution version a campaign serves."""

from __future__ import annotations

import uuid
from typing import Any

from objective_sweep.personalize import training
from objective_sweep.personalize.protocol import invalid, not_found
from objective_sweep.personalize.records import RECIPES, Campaign, Store

MAX_NUM_RESULTS = 500
DEFAULT_NUM_RESULTS = 25


class Runtime:
    def __init__(self, store: Store) -> None:
        self._store = store

    def _serving_model(self, campaign_arn: str) -> tuple[training.TrainedModel, str]:
        with self._store.transaction() as records:
            campaign = records.find(Campaign, campaign_arn)
            if campaign is None:
                raise not_found("campaign", campaign_arn)
            serving = campaign.serving
            model = records.models.get(serving.arn) if serving else None
            recipe = serving.solution.recipe_arn if serving else ""
            status = campaign.status
        if model is None:
            raise invalid(
                f"The campaign {campaign_arn} is {status} and serves no solution version yet; "
                "wait until it is ACTIVE."
            )
        return model, recipe.rsplit("/", 1)[-1]

    def get_recommendations(self, params: dict[str, Any]) -> dict[str, Any]:
        for unsupported in (
            "filterArn",
            "filterValues",
            "promotions",
            "metadataColumns",
            "recommenderArn",
            "itemId",
        ):
            if params.get(unsupported):
                raise invalid(
                    f"{unsupported} is not supported by the local endpoint (campaigns of User-Personalization "
                    "solutions only); remove it."
                )
        if not params.get("campaignArn"):
            raise invalid("campaignArn is required.")
        if not params.get("userId"):
            raise invalid("userId is required for a User-Personalization campaign.")
        count = params.get("numResults", DEFAULT_NUM_RESULTS)
        if count < 1 or count > MAX_NUM_RESULTS:
            raise invalid(f"numResults must be between 1 and {MAX_NUM_RESULTS}; it was {count}.")
        model, recipe = self._serving_model(params["campaignArn"])
        if RECIPES[recipe][0] != "USER_PERSONALIZATION":
            raise invalid(f"The campaign's recipe {recipe} ranks items; call GetPersonalizedRanking instead.")
        items = model.recommend(params["userId"], count)
        return {
            "itemList": [{"itemId": item, "score": score} for item, score in items],
            "recommendationId": f"RID-{uuid.uuid4()}",
        }

    def get_personalized_ranking(self, params: dict[str, Any]) -> dict[str, Any]:
        for unsupported in ("filterArn", "filterValues", "metadataColumns"):
            if params.get(unsupported):
                raise invalid(f"{unsupported} is not supported by the local endpoint; remove it.")
        model, recipe = self._serving_model(params["campaignArn"])
        if RECIPES[recipe][0] != "PERSONALIZED_RANKING":
            raise invalid(
                f"The campaign's recipe {recipe} is not a ranking recipe; deploy an aws-personalized-ranking "
                "solution to call GetPersonalizedRanking, or call GetRecommendations."
            )
        ranked = model.rank_items(params["userId"], params["inputList"])
        return {
            "personalizedRanking": [{"itemId": item, "score": score} for item, score in ranked],
            "recommendationId": f"RID-{uuid.uuid4()}",
        }
