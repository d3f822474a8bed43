"""Fleet pages: instances, registration tokens and the agent install guide."""
