"""The venue account books fills of cash products in its ledger only when read.

Held equal, after every step of random fills, marks and reads, to the
straightforward account: a ``Ledger`` that books every fill at once.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from brokers.paper.account import VenueAccount
from engine.models import Fill, Instrument, Liquidity, Side, crypto_perp, crypto_spot, krx_stock
from engine.portfolio.ledger import Ledger

D = Decimal
SPOT = crypto_spot("ETH/USDT", tick="0.01", lot="0.001", maker="0.001", taker="0.002")
PERP = crypto_perp("BTC/USDT:USDT", tick="0.1", lot="0.001", max_leverage=5,
                   contract_size="0.5")
KRX = krx_stock("005930")
SHORTABLE = replace(crypto_spot("SYN/USDT", tick="0.01", lot="1"), allows_short=True)
INSTRUMENTS = [SPOT, PERP, KRX, SHORTABLE]
OPENING = {"USDT": D(100_000), "KRW": D(50_000_000)}


class EagerAccount:
    """The reference: every fill booked in the ledger as it comes (the venue's old way)."""

    def __init__(self) -> None:
        self.ledger = Ledger()
        for currency, cash in OPENING.items():
            self.ledger.open_account(currency, currency, cash)
        self.first: set[str] = set()

    def apply_fill(self, fill: Fill, inst: Instrument) -> None:
        self.ledger.apply_fill(replace(fill, broker=inst.currency), inst)
        if inst.symbol not in self.first:
            self.first.add(inst.symbol)
            if inst.asset_class.is_derivative:
                self.ledger.set_leverage(inst.currency, inst.symbol, inst.max_leverage)


@st.composite
def steps(draw):
    out = []
    for i in range(draw(st.integers(1, 40))):
        what = draw(st.sampled_from(["fill", "fill", "fill", "mark", "read"]))
        inst = draw(st.sampled_from(INSTRUMENTS))
        price = inst.snap_price(draw(st.floats(0.5, 2.0)) * (70_000 if inst is KRX else 100))
        lots = draw(st.integers(1, 50))
        fill = Fill(f"paper-F{i}", f"c{i}", "paper", inst.symbol, draw(st.sampled_from(list(Side))),
                    inst.lot_size * lots, price, i, commission=D(draw(st.integers(0, 300))) / 100,
                    tax=D(draw(st.sampled_from([0, 0, 7]))), liquidity=Liquidity.TAKER,
                    fee_in_kind=inst.lot_size * draw(st.sampled_from([0, 0, 0, 1])))
        out.append((what, inst, fill, price))
    return out


def same_books(venue: VenueAccount, ref: EagerAccount) -> None:
    for currency in OPENING:
        account = ref.ledger.account(currency)
        assert venue.cash(currency) == account.cash
        assert venue.free_cash(currency) == account.cash - account.margin_used
    for inst in INSTRUMENTS:
        assert venue.holding(inst) == ref.ledger.quantity(inst.currency, inst.symbol)


@settings(max_examples=150, deadline=None)
@given(steps())
def test_lazy_booking_equals_booking_every_fill_at_once(plan):
    venue, ref = VenueAccount(OPENING), EagerAccount()
    for what, inst, fill, price in plan:
        if what == "fill":
            venue.apply_fill(fill, inst, inst.max_leverage)
            ref.apply_fill(fill, inst)
            same_books(venue, ref)  # the hot path's reads, before any flush
        elif what == "mark":
            venue.mark(inst.symbol, price)
            ref.ledger.mark(inst.symbol, price)
        else:
            assert venue.totals() == {c: ref.ledger.account(c) for c in OPENING}
            assert venue.positions("x", include_flat=True) == [
                replace(p, broker="x") for p in ref.ledger.positions(include_flat=True)]
    same_books(venue, ref)
    for currency in OPENING:
        assert venue.open_cost(currency) == ref.ledger.open_cost(currency)
        assert repr(venue.cash(currency)) == repr(ref.ledger.cash(currency))
    assert [replace(a, updated_ns=0, buying_power=D(0)) for a in venue.balances("x", 5)] == [
        replace(ref.ledger.account(c), broker="x", buying_power=D(0)) for c in OPENING]
