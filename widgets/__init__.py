"""Qt views over engine state. Widgets read the engine and call its public API; never brokers."""
