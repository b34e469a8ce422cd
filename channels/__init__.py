"""Customer-facing channels, one module per platform. Each verifies and de-duplicates what the
platform sends, turns it into an InboundMessage, and renders OutboundMessages back."""
