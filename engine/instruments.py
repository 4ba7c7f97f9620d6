"""The instruments the engine knows, by symbol."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from engine.errors import UserError
from engine.models import Instrument


class UnknownInstrument(UserError, KeyError):
    """A symbol nobody registered. Names the symbol and a few known ones."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class InstrumentRegistry:
    """Instruments by symbol. Brokers add theirs on connect; the rest look them up."""

    def __init__(self, instruments: Iterable[Instrument] = ()) -> None:
        self._by_symbol: dict[str, Instrument] = {}
        for inst in instruments:
            self.add(inst)

    def add(self, instrument: Instrument) -> None:
        self._by_symbol[instrument.symbol] = instrument

    def get(self, symbol: str) -> Instrument:
        try:
            return self._by_symbol[symbol]
        except KeyError:
            known = ", ".join(sorted(self._by_symbol)[:8]) or "none"
            raise UnknownInstrument(f"unknown symbol {symbol!r} (known: {known})") from None

    def find(self, symbol: str) -> Instrument | None:
        return self._by_symbol.get(symbol)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._by_symbol

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._by_symbol.values())

    def __len__(self) -> int:
        return len(self._by_symbol)

    def symbols(self) -> list[str]:
        return sorted(self._by_symbol)
