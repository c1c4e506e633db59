"""Small Hours on Telegram: a python-telegram-bot front end that talks to Rasa's REST channel.

Run it with ``python -m bot.telegram`` (``make telegram`` starts Rasa and the actions too).
"""
