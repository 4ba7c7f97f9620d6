"""Risk: pre-trade limits, portfolio limits, sizing, VaR/ES, drawdown, margin, kill switch.

Modules: ``limits`` (every order's checks), ``portfolio`` (daily loss/target,
drawdown, VaR, stops, session-end flatten), ``sizing``, ``var``, ``drawdown``,
``margin``, ``kill_switch``.
"""
