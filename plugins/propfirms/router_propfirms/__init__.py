"""Prop-firm brokers for alert-router: Tradovate, Rithmic, TradeLocker, Match-Trader, ProjectX.

All five are stubs: they validate their configuration and translate TradingView symbols into
the venue's names, and refuse every call that needs the venue with a "(stub)" message.
"""
