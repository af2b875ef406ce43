"""medflow.analyzers.labs."""
