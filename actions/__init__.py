"""Custom actions for the rasa-sdk action server (`rasa run actions --actions actions`).

Actions stay thin: they read the tracker, call a small backend client and return events. Backend
access lives in the *_client modules; pure logic (order-id parsing, the handoff package) has no
rasa-sdk dependency so it is tested on its own."""
