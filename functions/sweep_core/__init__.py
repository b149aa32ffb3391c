"""Domain code shared by every Lambda function of the workflow: models, Personalize resource
operations, input validation and the comparison report."""
