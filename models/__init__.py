"""Pure pydantic models: inputs, results, events. Safe to import inside the workflow sandbox."""
