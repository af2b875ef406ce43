"""medflow.reports."""
