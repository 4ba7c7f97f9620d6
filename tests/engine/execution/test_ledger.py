"""The ledger is exact: cash, positions, PnL and fees reconcile to the unit."""

from __future__ import annotations

import random
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.models import Fill, Side, crypto_perp, crypto_spot, krx_stock
from engine.portfolio import Ledger

SAMSUNG = krx_stock("005930")
BTC = crypto_spot("BTC/USDT")
PERP = crypto_perp("BTC/USDT:USDT")
D = Decimal


def fill(n: int, inst, side: Side, qty, price, broker="b", fee="0", tax="0") -> Fill:
    return Fill(fill_id=f"f{n}", client_order_id=f"o{n}", broker=broker, symbol=inst.symbol,
                side=side, quantity=D(str(qty)), price=D(str(price)), ts_ns=n,
                commission=D(fee), tax=D(tax))


def test_krx_round_trip_with_fees_and_tax():
    ledger = Ledger()
    ledger.open_account("b", "KRW", D(10_000_000))
    buy_fees = SAMSUNG.fees_for(Side.BUY, 70_000, 10)
    ledger.apply_fill(fill(1, SAMSUNG, Side.BUY, 10, 70_000, fee=buy_fees.commission), SAMSUNG)
    acct = ledger.account("b")
    assert acct.cash == D(10_000_000) - D(700_000) - D(105)
    pos = ledger.position("b", "005930")
    assert pos.quantity == 10 and pos.avg_price == 70_000 and pos.cost_basis == 700_000
    sell_fees = SAMSUNG.fees_for(Side.SELL, 72_000, 4)
    ledger.apply_fill(fill(2, SAMSUNG, Side.SELL, 4, 72_000, fee=sell_fees.commission,
                           tax=sell_fees.tax), SAMSUNG)
    pos = ledger.position("b", "005930")
    assert pos.quantity == 6 and pos.realized_pnl == D(8_000) and pos.cost_basis == D(420_000)
    acct = ledger.account("b")
    expected_cash = D(10_000_000) - 700_000 - 105 + 288_000 - sell_fees.total
    assert acct.cash == expected_cash
    assert acct.equity == expected_cash + 6 * 72_000


def test_perp_short_then_flip_long_realizes_on_margin():
    ledger = Ledger()
    ledger.open_account("b", "USDT", D(10_000))
    ledger.apply_fill(fill(1, PERP, Side.SELL, "0.5", 60_000), PERP)
    assert ledger.account("b").cash == D(10_000)  # futures tie up margin, not cash
    ledger.apply_fill(fill(2, PERP, Side.BUY, "0.8", 58_000), PERP)
    pos = ledger.position("b", PERP.symbol)
    assert pos.quantity == D("0.3") and pos.realized_pnl == D(1_000)
    assert pos.avg_price == D(58_000)
    assert ledger.account("b").cash == D(11_000)
    ledger.mark(PERP.symbol, D(59_000))
    acct = ledger.account("b")
    assert acct.unrealized_pnl == D(300) and acct.equity == D(11_300)


def _independent_check(ledger: Ledger, fills: list[Fill], inst, opening: Decimal) -> None:
    """Recompute everything from the raw fills, without the ledger's algorithm."""
    cs = inst.contract_size
    qty = sum((f.quantity * f.side.sign for f in fills), D(0))
    flows = sum((-f.side.sign * f.quantity * f.price * cs for f in fills), D(0))
    fees = sum((f.fee for f in fills), D(0))
    pos = ledger.position("b", inst.symbol)
    acct = ledger.account("b")
    assert pos.quantity == qty
    assert acct.fees == fees
    # Total trading PnL at any mark m: realized + unrealized == cash flows + qty * m.
    mark = fills[-1].price if fills else D(1)
    ledger.mark(inst.symbol, mark)
    pos = ledger.position("b", inst.symbol)
    assert pos.realized_pnl + pos.unrealized_pnl == flows + qty * mark * cs
    if inst.asset_class.is_derivative:
        assert acct.cash == opening + pos.realized_pnl - fees
    else:
        assert acct.cash == opening + flows - fees
        assert acct.cash == opening + acct.realized_pnl - fees - ledger.open_cost("b")


def _random_fills(rng: random.Random, inst, n: int, allow_short: bool) -> list[Fill]:
    fills, held = [], D(0)
    for i in range(n):
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        qty = inst.snap_qty(D(rng.randint(1, 5000)) * inst.lot_size)
        if side is Side.SELL and not allow_short:
            if held <= 0:
                side = Side.BUY
            else:
                qty = min(qty, held)
        price = inst.snap_price(D(rng.randint(1_000, 200_000)) / 10)
        fee = (price * qty * D("0.00015")).quantize(inst.currency_unit)
        fills.append(fill(i, inst, side, qty, price, fee=str(fee)))
        held += qty * side.sign
    return fills


def test_one_hundred_thousand_random_fills_reconcile_to_the_unit():
    rng = random.Random(20261122)
    for inst, opening, shorts in ((SAMSUNG, D(10) ** 15, False), (PERP, D(10) ** 9, True)):
        ledger = Ledger()
        ledger.open_account("b", inst.currency, opening)
        fills = _random_fills(rng, inst, 50_000, shorts)
        for f in fills:
            ledger.apply_fill(f, inst)
        _independent_check(ledger, fills, inst, opening)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 60), shorts=st.booleans())
def test_random_fill_sequences_reconcile(seed, n, shorts):
    inst = PERP if shorts else BTC
    ledger = Ledger()
    opening = D(10) ** 12
    ledger.open_account("b", inst.currency, opening)
    fills = _random_fills(random.Random(seed), inst, n, shorts)
    for f in fills:
        ledger.apply_fill(f, inst)
    _independent_check(ledger, fills, inst, opening)


def test_transfers_are_booked_as_cash():
    ledger = Ledger()
    ledger.open_account("b", "USDT", D(100))
    ledger.transfer("b", D("-1.25"))  # a funding payment
    assert ledger.account("b").cash == D("98.75") and ledger.transfers("b") == D("-1.25")


def _binance_spot_fills(rng: random.Random, n: int) -> list[Fill]:
    """Buys pay a 0.1% fee in BTC (kept from the fill), sells pay it in USDT."""
    fills, held = [], D(0)
    for i in range(n):
        side = Side.BUY if held <= 0 or rng.random() < 0.5 else Side.SELL
        qty = D(rng.randint(1, 50_000)) * BTC.lot_size
        if side is Side.SELL:
            qty = min(qty, held)
        price = BTC.snap_price(D(rng.randint(10_000, 900_000)) / 10)
        if side is Side.BUY:
            kept = (qty * D("0.001")).quantize(D("1e-8"))
            f = Fill(fill_id=f"f{i}", client_order_id=f"o{i}", broker="b", symbol=BTC.symbol,
                     side=side, quantity=qty, price=price, ts_ns=i, commission=kept * price,
                     fee_in_kind=kept)
        else:
            f = fill(i, BTC, side, qty, price, fee=str((qty * price * D("0.001")).quantize(
                D("1e-8"))))
        fills.append(f)
        held += qty * side.sign - f.fee_in_kind
    return fills


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 60))
def test_fees_paid_in_the_base_asset_leave_the_position_net(seed, n):
    opening = D(10) ** 9
    ledger = Ledger()
    ledger.open_account("b", "USDT", opening)
    fills = _binance_spot_fills(random.Random(seed), n)
    for f in fills:
        ledger.apply_fill(f, BTC)
    # What Binance holds: the bought units less the units it kept, and cash that paid
    # the price (plus USDT fees on sells) but never the BTC fees.
    qty = sum((f.quantity * f.side.sign - f.fee_in_kind for f in fills), D(0))
    cash = opening + sum((-f.side.sign * f.quantity * f.price - (f.fee - f.fee_in_kind * f.price)
                          for f in fills), D(0))
    acct = ledger.account("b")
    assert ledger.position("b", BTC.symbol).quantity == qty
    assert acct.cash == cash
    assert acct.fees == sum((f.fee for f in fills), D(0))  # every fee reported, both kinds
    mark = fills[-1].price
    ledger.mark(BTC.symbol, mark)
    pos, acct = ledger.position("b", BTC.symbol), ledger.account("b")
    assert acct.equity == cash + qty * mark
    assert pos.realized_pnl + pos.unrealized_pnl - acct.fees == acct.equity - opening


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(0, 40), marked=st.booleans())
def test_gross_exposure_is_the_sum_of_the_positions_market_values(seed, n, marked):
    rng = random.Random(seed)
    ledger = Ledger()
    ledger.open_account("b", "USDT", D(10) ** 12)
    eth = crypto_spot("ETH/USDT")
    for inst, shorts in ((BTC, False), (PERP, True), (eth, False)):
        for f in _random_fills(rng, inst, n, shorts):
            ledger.apply_fill(f, inst)
        if marked:
            ledger.mark(inst.symbol, rng.uniform(1_000, 20_000))
    snapshots = ledger.positions("b")
    assert ledger.gross_exposure("b") == sum((abs(p.market_value) for p in snapshots), D(0))
    perps = ledger.gross_exposure("b", lambda s: s == PERP.symbol)
    assert perps == sum((abs(p.market_value) for p in snapshots if p.symbol == PERP.symbol),
                        D(0))
    assert ledger.gross_exposure("nobody") == 0
    # Risk reads equity alone; it is the account's to the last digit, spot, perps and marks.
    assert ledger.equity("b") == ledger.account("b").equity
