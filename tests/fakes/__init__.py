"""Protocol-faithful local fakes of the Anthropic and Voyage HTTP APIs for tests."""
