"""The domain library: services, backends and rules; no Flask, no functions-framework."""
