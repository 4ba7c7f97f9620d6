"""Backtesting: the live engine, risk and OMS driven by a simulated clock over stored bars."""
