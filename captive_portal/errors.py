"""Why a citizen's request was refused: a code the pages turn into a clear message."""

from __future__ import annotations

from enum import StrEnum


class Refusal(StrEnum):
    """Every reason the portal can refuse a citizen: the one registry of codes. Each has an
    Indonesian and an English text in captive_portal/i18n.py (a unit test walks them all); the
    value is also the `result` of the login counters and metrics."""

    NOT_ON_HOTSPOT = "not_on_hotspot"
    NO_MAC = "no_mac"
    GATEWAY_ERROR = "gateway_error"
    MODE_NOT_OFFERED = "mode_not_offered"
    TERMS_NOT_ACCEPTED = "terms_not_accepted"
    RATE_LIMITED = "rate_limited"
    QUOTA_EXHAUSTED = "quota_exhausted"
    VOUCHER_FORMAT = "voucher_format"
    VOUCHER_UNKNOWN = "voucher_unknown"
    VOUCHER_EXPIRED = "voucher_expired"
    VOUCHER_USED = "voucher_used"
    PHONE_FORMAT = "phone_format"
    OTP_FORMAT = "otp_format"
    OTP_NONE = "otp_none"
    OTP_EXPIRED = "otp_expired"
    OTP_WRONG = "otp_wrong"
    OTP_ATTEMPTS = "otp_attempts"
    OTP_SEND_LIMIT = "otp_send_limit"
    OTP_RESEND_WAIT = "otp_resend_wait"
    OTP_DEVICE_LIMIT = "otp_device_limit"
    SMS_BUDGET = "sms_budget"
    SMS_ERROR = "sms_error"
    FORM_EXPIRED = "form_expired"
    BAD_REQUEST = "bad_request"
    NAS_LINK = "nas_link"
    NAS_REFUSED = "nas_refused"
    STORE_UNAVAILABLE = "store_unavailable"


class PortalError(Exception):
    """A refusal the citizen sees as a page; `code` keys the message in captive_portal/i18n.py.
    A code outside Refusal is a bug: ValueError here, never a raw code on a page."""

    def __init__(self, code: Refusal | str, status: int = 400,
                 retry_after_s: int | None = None):
        super().__init__(str(code))
        self.code = Refusal(code)
        self.status = status
        self.retry_after_s = retry_after_s  # a 503's Retry-After, when the cause knows it
