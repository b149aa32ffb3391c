"""The comparison report: the data contract (``model``), the pure computation (``build``), and its
renderings as Markdown, HTML, terminal text and the short SNS/execution summary."""
