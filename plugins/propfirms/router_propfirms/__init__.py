"""Prop-firm brokers for alert-router: Tradovate, Rithmic, TradeLocker, Match-Trader, ProjectX,
and the prop-firm rules (``rules``) that guard those accounts.

Brokers marked ``stub = True`` validate their configuration and translate TradingView symbols
into the venue's names, and refuse every call that needs the venue with a "(stub)" message
that says what is missing; the others are real clients tested against loopback fakes.
"""
