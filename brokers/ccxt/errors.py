"""What a ccxt exception means for the request that raised it.

=====================  ========================================================
Action                 ccxt exceptions (and why)
=====================  ========================================================
RETRY                  DDoSProtection, RateLimitExceeded (HTTP 418/429, -1003):
                       Binance refused the request before doing anything; wait
                       and send it again (longer after a 418 ban)
RESYNC_TIME            InvalidNonce (-1021 timestamp outside recvWindow): the
                       clock offset drifted; measure it again, then resend
UNKNOWN                RequestTimeout, ExchangeNotAvailable (5xx), other
                       NetworkError: the request may or may not have been
                       executed; find out (by client order id) before resending
AUTH                   AuthenticationError, PermissionDenied, AccountSuspended
REJECT                 InsufficientFunds, InvalidOrder, BadRequest, BadSymbol,
                       OperationRejected and any other ExchangeError: the venue
                       answered no; report the rejection with its reason
FAIL                   anything else (a bug, ccxt closed): not retried
=====================  ========================================================

``ChecksumError`` (an order book sequence gap) is a NetworkError subclass but
belongs to the streams, which resynchronise the book on it.
"""

from __future__ import annotations

import json
import re
from enum import Enum

import ccxt

from brokers.ccxt.credentials import Credentials, scrub


class Action(Enum):
    RETRY = "retry"
    RESYNC_TIME = "resync_time"
    UNKNOWN = "unknown"
    AUTH = "auth"
    REJECT = "reject"
    FAIL = "fail"


def classify(exc: BaseException) -> Action:
    if isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
        return Action.RETRY
    if isinstance(exc, ccxt.InvalidNonce) and not isinstance(exc, ccxt.ChecksumError):
        return Action.RESYNC_TIME
    if isinstance(exc, ccxt.NetworkError):
        return Action.UNKNOWN
    if isinstance(exc, ccxt.AuthenticationError):
        return Action.AUTH
    if isinstance(exc, ccxt.ExchangeError):
        return Action.REJECT
    return Action.FAIL


def is_ban(exc: BaseException) -> bool:
    """HTTP 418: Binance banned the IP for hammering after 429s; back off much longer."""
    return isinstance(exc, ccxt.DDoSProtection) and " 418 " in str(exc)


_BODY = re.compile(r"\{.*\}", re.S)


def reason(exc: BaseException, credentials: Credentials | None = None) -> str:
    """A short human reason: Binance's ``code`` and ``msg`` when the answer had them."""
    text = str(exc)
    match = _BODY.search(text)
    if match:
        try:
            body = json.loads(match.group(0))
        except ValueError:
            body = None
        if isinstance(body, dict) and "msg" in body:
            text = f"{body['msg']} (Binance {body.get('code', '?')})"
    elif text.startswith("binance "):
        text = text[len("binance "):]
    if len(text) > 300:
        text = text[:300] + "..."
    return scrub(f"{type(exc).__name__}: {text}" if text else type(exc).__name__, credentials)
