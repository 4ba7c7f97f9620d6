"""Kiwoom OpenAPI+ return codes and what they mean for us.

Every method of the control that can fail returns a negative code (``CommRqData``,
``SendOrder``, ``SetRealReg``, ``CommConnect``; ``OnEventConnect`` carries one
too). ``describe(code)`` turns one into a message a user can act on, and
``kind_of(code)`` into a category the bridge and the adapter act on:

* ``rate_limited`` (-200, -308, -311): the request was refused before it left
  the control; it is safe to queue it and send it again later;
* ``login`` (-100..-106): the session is not usable;
* ``input`` (-300, -105, -201, -202, -500, ...): the request itself is wrong;
  sending it again cannot help;
* ``failed``: anything else.

Standard library only: the bridge (32-bit Python on Windows) imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass

OK = 0

# code: (constant name, the control's own message, an English explanation)
RETURN_CODES: dict[int, tuple[str, str, str]] = {
    0: ("OP_ERR_NONE", "정상처리", "ok"),
    -10: ("OP_ERR_FAIL", "실패", "the request failed"),
    -11: ("OP_ERR_COND_NOTFOUND", "조건번호 없음", "no such condition number"),
    -12: ("OP_ERR_COND_MISMATCH", "조건번호와 조건식 틀림", "condition number and name do not match"),
    -13: ("OP_ERR_COND_OVERFLOW", "조건검색 조회요청 초과", "too many condition searches"),
    -22: ("OP_ERR_TR_FAIL", "전문 처리 실패", "the message could not be processed"),
    -100: ("OP_ERR_LOGIN", "사용자정보 교환 실패",
           "login failed: user information could not be exchanged (wrong ID, password or "
           "certificate password, or the account is locked)"),
    -101: ("OP_ERR_CONNECT", "서버접속 실패",
           "login failed: the Kiwoom server could not be reached (network, firewall, or the "
           "server is in maintenance)"),
    -102: ("OP_ERR_VERSION", "버전처리 실패",
           "login failed: OpenAPI+ updated itself; close every program that uses it "
           "(KOA Studio, HTS) and let the terminal restart the bridge"),
    -103: ("OP_ERR_FIREWALL", "개인방화벽 실패", "the personal firewall blocked the connection"),
    -104: ("OP_ERR_MEMORY", "메모리보호 실패", "memory protection failed"),
    -105: ("OP_ERR_INPUT", "함수입력값 오류", "a function was called with invalid input"),
    -106: ("OP_ERR_SOCKET_CLOSED", "통신 연결종료", "the connection to Kiwoom was closed"),
    -200: ("OP_ERR_SISE_OVERFLOW", "시세조회 과부하",
           "too many data requests (more than 5 per second, or Kiwoom's longer limits)"),
    -201: ("OP_ERR_RQ_STRUCT_FAIL", "전문작성 초기화 실패", "the request could not be built"),
    -202: ("OP_ERR_RQ_STRING_FAIL", "전문작성 입력값 오류", "a request input is invalid"),
    -203: ("OP_ERR_NO_DATA", "데이터 없음", "no data"),
    -204: ("OP_ERR_OVER_MAX_DATA", "조회 가능한 종목수 초과", "too many codes in one request"),
    -205: ("OP_ERR_DATA_RCV_FAIL", "데이터수신 실패", "receiving the data failed"),
    -206: ("OP_ERR_OVER_MAX_FID", "조회 가능한 FID수 초과", "too many FIDs in one request"),
    -207: ("OP_ERR_REAL_CANCEL", "실시간 해제 오류", "real-time unregistration failed"),
    -300: ("OP_ERR_ORD_WRONG_INPUT", "입력값 오류",
           "order input error (code, quantity, price, hoga or original order number)"),
    -301: ("OP_ERR_ORD_WRONG_ACCTNO", "계좌 비밀번호 없음",
           "no account password stored: set it in the OpenAPI+ tray icon's 계좌비밀번호 저장"),
    -302: ("OP_ERR_OTHER_ACC_USE", "타인계좌사용 오류", "the account belongs to someone else"),
    -303: ("OP_ERR_MIS_2BILL_EXC", "주문가격이 20억원을 초과", "order value above 2 billion won"),
    -304: ("OP_ERR_MIS_5BILL_EXC", "주문가격이 50억원을 초과", "order value above 5 billion won"),
    -305: ("OP_ERR_MIS_1PER_EXC", "주문수량이 총발행주수의 1%초과오류",
           "order quantity above 1% of the listed shares"),
    -306: ("OP_ERR_MIS_3PER_EXC", "주문수량이 총발행주수의 3%초과오류",
           "order quantity above 3% of the listed shares"),
    -307: ("OP_ERR_SEND_FAIL", "주문전송 실패", "the order could not be sent"),
    -308: ("OP_ERR_ORD_OVERFLOW", "주문전송 과부하", "too many orders (more than 5 per second)"),
    -309: ("OP_ERR_MIS_300CNT_EXC", "주문수량 300계약 초과", "more than 300 contracts"),
    -310: ("OP_ERR_MIS_500CNT_EXC", "주문수량 500계약 초과", "more than 500 contracts"),
    -311: ("OP_ERR_ORD_OVERFLOW2", "주문전송 과부하", "too many orders (Kiwoom's longer limit)"),
    -340: ("OP_ERR_ORD_WRONG_ACCTINFO", "계좌정보없음", "no such account"),
    -500: ("OP_ERR_ORD_SYMCODE_EMPTY", "종목코드없음", "no such stock code"),
}

LOGIN_CODES = frozenset({-100, -101, -102, -103, -104, -106})
RATE_LIMIT_CODES = frozenset({-200, -308, -311})
INPUT_CODES = frozenset({-105, -201, -202, -204, -206, -300, -301, -302, -303, -304, -305,
                         -306, -309, -310, -340, -500})


@dataclass(frozen=True, slots=True)
class Reason:
    """One return code explained."""

    code: int
    name: str
    korean: str
    english: str
    kind: str  # ok | rate_limited | login | input | failed

    @property
    def retryable(self) -> bool:
        """True when the control refused before sending, so sending again is safe."""
        return self.kind == "rate_limited"

    def __str__(self) -> str:
        if self.code == OK:
            return "ok"
        return f"Kiwoom {self.code} {self.name} ({self.korean}): {self.english}"


def kind_of(code: int) -> str:
    if code == OK:
        return "ok"
    if code in RATE_LIMIT_CODES:
        return "rate_limited"
    if code in LOGIN_CODES:
        return "login"
    if code in INPUT_CODES:
        return "input"
    return "failed"


def reason(code: int) -> Reason:
    name, korean, english = RETURN_CODES.get(
        code, ("UNKNOWN", "알 수 없는 오류", "an error code Kiwoom does not document"))
    return Reason(code, name, korean, english, kind_of(code))


def describe(code: int) -> str:
    """One line for a person, e.g. ``Kiwoom -308 OP_ERR_ORD_OVERFLOW (주문전송 과부하): ...``."""
    return str(reason(code))


def login_failure(code: int) -> str:
    """Why ``OnEventConnect(code)`` did not log in, for the status bar."""
    return describe(code)
