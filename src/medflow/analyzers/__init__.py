"""medflow.analyzers."""
