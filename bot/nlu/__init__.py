"""Our own NLU components (the safety layer's component lives in bot/safety/)."""
