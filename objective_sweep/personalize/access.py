"""What IAM authorizes each Personalize operation against, from the Service Authorization Reference
("Actions, resources, and condition keys for Amazon Personalize"): the resource types an action
requires (a caller needs an Allow on every one of them), and the iam:PassRole an import job's role
needs. The local endpoint asks its authorizer about each (resource ARN) before it acts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from objective_sweep.localcloud.authorizer import AccessDenied, Authorizer
from objective_sweep.personalize.protocol import ApiError

# Personalize's service principal, as iam:PassedToService names it.
SERVICE = "personalize.amazonaws.com"


def _new(kind: str, name_field: str) -> Callable[[dict[str, Any], str], str]:
    """The ARN the request's new resource will have."""
    return lambda params, prefix: f"{prefix}:{kind}/{params[name_field]}"


def _param(field: str) -> Callable[[dict[str, Any], str], str]:
    return lambda params, _prefix: str(params[field])


def _new_dataset(params: dict[str, Any], prefix: str) -> str:
    group = str(params["datasetGroupArn"]).rsplit("/", 1)[-1]
    return f"{prefix}:dataset/{group}/{str(params['datasetType']).upper()}"


def _everything(_params: dict[str, Any], _prefix: str) -> str:
    # Actions without resource-level permissions are authorized against "*".
    return "*"


# Operation -> the resources it is authorized against (all must be allowed).
REQUIRED_RESOURCES: dict[str, tuple[Callable[[dict[str, Any], str], str], ...]] = {
    "CreateDatasetGroup": (_new("dataset-group", "name"),),
    "CreateSchema": (_new("schema", "name"),),
    "CreateDataset": (_new_dataset, _param("datasetGroupArn")),
    "CreateDatasetImportJob": (_param("datasetArn"), _new("dataset-import-job", "jobName")),
    "CreateSolution": (_param("datasetGroupArn"), _new("solution", "name")),
    "CreateSolutionVersion": (_param("solutionArn"),),
    "CreateCampaign": (_new("campaign", "name"), _param("solutionVersionArn")),
    "UpdateCampaign": (_param("campaignArn"),),
    "StopSolutionVersionCreation": (_param("solutionVersionArn"),),
    "GetSolutionMetrics": (_param("solutionVersionArn"),),
    "DescribeDatasetGroup": (_param("datasetGroupArn"),),
    "DescribeSchema": (_param("schemaArn"),),
    "DescribeDataset": (_param("datasetArn"),),
    "DescribeDatasetImportJob": (_param("datasetImportJobArn"),),
    "DescribeSolution": (_param("solutionArn"),),
    "DescribeSolutionVersion": (_param("solutionVersionArn"),),
    "DescribeCampaign": (_param("campaignArn"),),
    "DescribeRecipe": (_param("recipeArn"),),
    "DeleteDatasetGroup": (_param("datasetGroupArn"),),
    "DeleteSchema": (_param("schemaArn"),),
    "DeleteDataset": (_param("datasetArn"),),
    "DeleteSolution": (_param("solutionArn"),),
    "DeleteCampaign": (_param("campaignArn"),),
    "ListDatasetGroups": (_everything,),
    "ListSchemas": (_everything,),
    "ListDatasets": (_everything,),
    "ListDatasetImportJobs": (_everything,),
    "ListSolutions": (_everything,),
    "ListSolutionVersions": (_everything,),
    "ListCampaigns": (_everything,),
    "ListRecipes": (_everything,),
    "GetRecommendations": (_param("campaignArn"),),
    "GetPersonalizedRanking": (_param("campaignArn"),),
}


def required_resources(operation: str, params: dict[str, Any], region: str, account: str) -> list[str]:
    """The resource ARNs `operation` with `params` is authorized against."""
    extractors = REQUIRED_RESOURCES.get(operation)
    if extractors is None:
        raise NotImplementedError(
            f"the local endpoint does not know which resources IAM checks for {operation}; "
            "add it to objective_sweep/personalize/access.py"
        )
    prefix = f"arn:aws:personalize:{region}:{account}"
    return [extract(params, prefix) for extract in extractors]


class Access:
    """The endpoint's IAM checks; without an authorizer (a bare endpoint) every call is allowed."""

    def __init__(self, authorizer: Authorizer | None, account: str) -> None:
        self.authorizer = authorizer
        self._account = account

    def authorize(self, operation: str, params: dict[str, Any], region: str, caller: str | None) -> None:
        """Refuse the call unless the caller's policies allow it on every resource IAM checks."""
        if self.authorizer is None:
            return
        for resource in required_resources(operation, params, region, self._account):
            self.check(caller, f"personalize:{operation}", resource)

    def check(self, caller: str | None, action: str, resource: str, **context: str) -> None:
        if self.authorizer is None:
            return
        try:
            self.authorizer.check(caller, action, resource, context=context)
        except AccessDenied as denied:
            raise ApiError("AccessDeniedException", denied.message) from None
