"""Customer-service analytics: conversation and case events in, figures, plots, alerts, quality
flags and training data out. Definitions: docs/analytics.md."""
