"""Domain code shared by every Lambda function of the workflow: models, Personalize resource
operations, input validation and the comparison report."""

# Kept equal to pyproject.toml's version (a unit test checks): Lambda ships this package as source,
# without distribution metadata, and the report records which version produced it.
__version__ = "0.1.0"
