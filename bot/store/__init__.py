"""Small Hours' own storage: profiles, escalation counts and referrals, never message text.

Rasa's conversation history lives in the same database (``tracker_store.py``); our tables are
prefixed ``sh_`` so the two never clash.
"""
