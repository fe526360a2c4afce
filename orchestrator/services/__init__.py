"""Domain logic shared by the API, the channels and the bots."""
