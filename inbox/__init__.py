"""Where people work handoff cases: the web agent console (inbox/console.py) and the Slack inbox."""
