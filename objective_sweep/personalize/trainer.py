"""What a solution version trains on and how: a snapshot of its dataset group's imported interactions
(and the items' objective column), then `training.train`, or `training.update` on a FULL base model."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from objective_sweep.personalize import training
from objective_sweep.personalize.data import Table
from objective_sweep.personalize.records import Solution, Store


class Trainer:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache = training.FactorisationCache()
        self._making = threading.Lock()

    def train(self, solution: Solution, base_arn: str | None) -> training.TrainedModel:
        config = solution.config
        objective = config.get("optimizationObjective") or {}
        data = self._snapshot(solution.dataset_group_arn, objective.get("itemAttribute"))
        hyper = training.Hyperparameters.from_config(config.get("algorithmHyperParameters") or {})
        # Personalize documents no default sensitivity; LOW is the mildest setting that does something.
        sensitivity = objective.get("objectiveSensitivity", "LOW") if objective else None
        with self._store.transaction() as records:
            base = records.models.get(base_arn) if base_arn else None
        if base is not None:
            return training.update(base, data, hyper)
        return training.train(data, hyper, sensitivity, self._cache)

    def _snapshot(self, group_arn: str, objective_column: str | None) -> training.Interactions:
        with self._store.transaction() as records:
            interactions_ds = records.dataset(group_arn, "INTERACTIONS")
            items_ds = records.dataset(group_arn, "ITEMS")
            interactions = records.tables.get(interactions_ds.arn) if interactions_ds else None
            items = records.tables.get(items_ds.arn) if items_ds else None
        if interactions is None:
            raise training.TrainingFailure(
                "The dataset group has no imported interactions; create an INTERACTIONS dataset, import data "
                "with CreateDatasetImportJob and wait until the job is ACTIVE."
            )
        # One snapshot made at a time: versions of a sweep start together, and each making its own would
        # number and hash the same 25M rows side by side (Python work, one core between them).
        with self._making:
            with self._store.transaction() as records:
                made = records.snapshots.get((group_arn, objective_column))
            if made is not None and made[0] is interactions and made[1] is items:
                return made[2]
            snapshot = _new_snapshot(interactions, items, objective_column)
            _ = snapshot.fingerprint  # numbers the rows too; both are cached on the snapshot
            with self._store.transaction() as records:
                records.snapshots[(group_arn, objective_column)] = (interactions, items, snapshot)
            return snapshot


def _new_snapshot(
    interactions: Table, items: Table | None, objective_column: str | None
) -> training.Interactions:
    catalogue: Sequence[str] = items.columns["ITEM_ID"] if items else ()
    objective = None
    if objective_column:
        if items is None or objective_column not in items.columns:
            raise training.TrainingFailure(
                f"optimizationObjective.itemAttribute {objective_column} needs an ITEMS dataset with that "
                "numeric column and imported data; import the items first."
            )
        objective = dict(zip(items.columns["ITEM_ID"], items.columns[objective_column], strict=True))
    columns = interactions.columns
    # The imported columns are never changed in place (an import replaces the table), so the
    # snapshot reads them without a copy.
    return training.Interactions(
        users=columns["USER_ID"],
        items=columns["ITEM_ID"],
        timestamps=columns["TIMESTAMP"],
        catalogue=catalogue,
        objective=objective,
    )
