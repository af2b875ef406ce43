"""medflow.aws."""
