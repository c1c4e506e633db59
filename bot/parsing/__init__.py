"""Shared parsing of what dads type (ages), written once for every part of the bot."""
