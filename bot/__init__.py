"""The gateway: one aiohttp application between customer channels, the Rasa server and the human inbox."""
