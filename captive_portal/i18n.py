"""Citizen-facing text: Bahasa Indonesia first, English second. Keys are stable codes."""

from __future__ import annotations

from captive_portal.errors import Refusal

LANGS = ("id", "en")

TEXT: dict[str, tuple[str, str]] = {
    "welcome": ("Selamat datang di WiFi publik gratis", "Welcome to free public WiFi"),
    "terms": ("Syarat penggunaan", "Terms of use"),
    # One tick for every way of logging in: what the three ticks meant, said once.
    "accept": ("Saya menyetujui syarat penggunaan di atas untuk semua cara masuk.",
               "I accept the terms of use above, whichever way I log in."),
    "offer": ("Gratis", "Free"),
    "per_session": ("per sesi", "a session"),
    "per_day": ("per hari", "a day"),
    "and": ("dan", "and"),
    "hour": ("jam", "hour"),
    "hours": ("jam", "hours"),
    "minute": ("menit", "minute"),
    "offer_minutes": ("menit", "minutes"),
    "click_hint": ("Tanpa kode: cukup centang persetujuan lalu tekan Sambungkan.",
                   "No code needed: tick the box above and press Connect."),
    "connect": ("Sambungkan", "Connect"),
    "voucher": ("Kode voucher", "Voucher code"),
    "voucher_hint": ("Contoh: ABCD-EFGH", "Example: ABCD-EFGH"),
    "use_voucher": ("Masuk dengan voucher", "Log in with a voucher"),
    "phone": ("Nomor HP", "Mobile number"),
    "phone_hint": ("Contoh: 0812 3456 7890", "Example: 0812 3456 7890"),
    "send_code": ("Kirim kode lewat SMS", "Send a code by SMS"),
    "code": ("Kode dari SMS (6 angka)", "Code from the SMS (6 digits)"),
    "code_sent": ("Kode telah dikirim lewat SMS ke {phone}.",
                  "A code has been sent by SMS to {phone}."),
    "resend": ("Kirim ulang kode", "Send the code again"),
    "resend_wait": ("Belum menerima SMS? Anda dapat meminta kode baru setelah {seconds} detik.",
                    "No SMS yet? You can ask for a new code after {seconds} seconds."),
    "resend_now": ("Belum menerima SMS?", "No SMS yet?"),
    "verify": ("Masuk", "Log in"),
    "or": ("atau", "or"),
    "connected": ("Anda sudah terhubung ke internet", "You are connected to the internet"),
    "remaining": ("Sisa waktu", "Time remaining"),
    "until": ("sampai pukul {time}", "until {time}"),
    "data_left": ("Sisa kuota data hari ini", "Data left today"),
    "no_data_limit": ("tanpa batas data", "no data limit"),
    "close_hint": ("Anda dapat menutup halaman ini.", "You can close this page."),
    "public_page": ("Capaian WiFi publik dan belanja internet pemerintah daerah",
                    "Public WiFi reach and the regency's internet spending"),
    "back": ("Kembali", "Back"),
    "error_title": ("Maaf", "Sorry"),
    "other_lang": ("English", "Bahasa Indonesia"),
    "nas_step": ("Satu langkah lagi: menyambungkan perangkat Anda",
                 "One more step: connecting your device"),
    "nas_hint": ("Jika halaman tidak berpindah sendiri, tekan Lanjutkan.",
                 "If the page does not move on by itself, press Continue."),
    "nas_continue": ("Lanjutkan", "Continue"),
    "privacy": ("Kami hanya menyimpan data sesi seperlunya dan menghapusnya setelah {days} hari.",
                "We keep only the session data we need and delete it after {days} days."),
}

ERRORS: dict[Refusal, tuple[str, str]] = {
    Refusal.NOT_ON_HOTSPOT: ("Perangkat Anda tidak terhubung ke WiFi publik kami.",
                             "Your device is not connected to our public WiFi."),
    Refusal.NO_MAC: (
        "Perangkat Anda belum dikenali oleh gateway. Sambungkan ulang WiFi lalu coba lagi.",
        "The gateway does not know your device yet. Reconnect to the WiFi and try again."),
    Refusal.GATEWAY_ERROR: (
        "Gateway hotspot sedang tidak dapat dihubungi. Coba lagi sebentar lagi.",
        "The hotspot gateway cannot be reached. Please try again shortly."),
    Refusal.MODE_NOT_OFFERED: ("Cara masuk ini tidak tersedia di hotspot ini.",
                               "This login method is not offered at this hotspot."),
    Refusal.TERMS_NOT_ACCEPTED: ("Centang persetujuan syarat penggunaan terlebih dahulu.",
                                 "Please tick the box to accept the terms of use first."),
    Refusal.RATE_LIMITED: ("Terlalu banyak percobaan. Tunggu satu menit lalu coba lagi.",
                           "Too many attempts. Wait a minute and try again."),
    Refusal.QUOTA_EXHAUSTED: ("Kuota harian Anda sudah habis. Silakan coba lagi besok.",
                              "Your daily quota is used up. Please try again tomorrow."),
    Refusal.VOUCHER_FORMAT: ("Kode voucher harus 8 huruf/angka, contoh ABCD-EFGH.",
                             "A voucher code is 8 letters/digits, e.g. ABCD-EFGH."),
    Refusal.VOUCHER_UNKNOWN: ("Kode voucher tidak dikenal untuk hotspot ini.",
                              "The voucher code is not known at this hotspot."),
    Refusal.VOUCHER_EXPIRED: ("Masa berlaku voucher sudah lewat.", "The voucher has expired."),
    Refusal.VOUCHER_USED: ("Voucher ini sudah habis dipakai.", "This voucher has been used up."),
    Refusal.PHONE_FORMAT: (
        "Nomor HP tidak valid. Gunakan nomor seluler Indonesia, contoh 0812 3456 7890.",
        "Invalid mobile number. Use an Indonesian mobile number, e.g. 0812 3456 7890."),
    Refusal.OTP_FORMAT: ("Kode harus 6 angka.", "The code must be 6 digits."),
    Refusal.OTP_NONE: ("Belum ada kode untuk nomor ini. Minta kode terlebih dahulu.",
                       "There is no code for this number yet. Request a code first."),
    Refusal.OTP_EXPIRED: ("Kode sudah kedaluwarsa. Minta kode baru.",
                          "The code has expired. Request a new one."),
    Refusal.OTP_WRONG: ("Kode salah. Periksa SMS Anda lalu coba lagi.",
                        "Wrong code. Check your SMS and try again."),
    Refusal.OTP_ATTEMPTS: ("Terlalu banyak kode salah. Minta kode baru.",
                           "Too many wrong codes. Request a new code."),
    Refusal.OTP_SEND_LIMIT: ("Batas pengiriman kode tercapai. Coba lagi dalam satu jam.",
                             "Code sending limit reached. Try again in an hour."),
    Refusal.OTP_RESEND_WAIT: (
        "Kode baru belum dapat dikirim. Tunggu sebentar lalu tekan Kirim ulang lagi.",
        "A new code cannot be sent yet. Wait a moment, then press Send again."),
    Refusal.OTP_DEVICE_LIMIT: (
        "Terlalu banyak kode diminta dari perangkat ini. Coba lagi nanti atau gunakan cara masuk "
        "lain.",
        "Too many codes were requested from this device. Try again later or use another way to "
        "log in."),
    Refusal.SMS_BUDGET: (
        "Kode SMS sedang tidak tersedia. Gunakan cara masuk lain atau coba lagi nanti.",
        "SMS codes are not available right now. Use another way to log in or try again later."),
    Refusal.NAS_LINK: (
        "Tautan login dari hotspot tidak sah. Sambungkan ulang WiFi lalu coba lagi.",
        "The hotspot's login link is not valid. Reconnect to the WiFi and try again."),
    Refusal.NAS_REFUSED: ("Hotspot belum menerima login Anda. Tekan Sambungkan untuk mencoba lagi.",
                          "The hotspot did not accept the login. Press Connect to try again."),
    Refusal.FORM_EXPIRED: ("Formulir sudah kedaluwarsa. Silakan coba lagi.",
                           "The form has expired. Please try again."),
    Refusal.SMS_ERROR: ("SMS tidak dapat dikirim saat ini. Coba lagi nanti.",
                        "The SMS cannot be sent right now. Try again later."),
    Refusal.BAD_REQUEST: ("Permintaan tidak valid.", "Invalid request."),
    Refusal.STORE_UNAVAILABLE: (
        "Layanan sedang tidak dapat menyimpan data. Coba lagi beberapa saat lagi.",
        "The service cannot save data right now. Please try again in a moment."),
}


_BY_CODE: dict[str, tuple[str, str]] = {code.value: pair for code, pair in ERRORS.items()}


def lang_of(value: str | None) -> str:
    return value if value in LANGS else "id"


def t(key: str, lang: str) -> str:
    """The text of a key or refusal code in `lang`; an unknown key says 'invalid request',
    never the key itself."""
    pair = TEXT.get(key) or _BY_CODE.get(key) or ERRORS[Refusal.BAD_REQUEST]
    return pair[1] if lang == "en" else pair[0]


def duration_text(seconds: int, lang: str) -> str:
    """'2 jam 30 menit' / '2 hours 30 minutes': a session's or quota's length, for citizens."""
    hours, minutes = divmod(max(0, seconds) // 60, 60)
    if hours == 0 and minutes == 0 and seconds > 0:
        minutes = 1  # a few seconds left still reads as a minute, never '0'
    parts = []
    if hours:
        parts.append(f"{hours} {t('hour' if hours == 1 else 'hours', lang)}")
    if minutes or not hours:
        parts.append(f"{minutes} {t('minute' if minutes == 1 else 'offer_minutes', lang)}")
    return " ".join(parts)


def bytes_text(count: int, lang: str) -> str:
    """'2 GB', '1,5 GB' (Indonesian decimal comma) or '750 MB': powers of 1000, as the
    inventory's sizes (controller.units.parse_bytes)."""
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if count >= size:
            value = f"{count / size:.1f}".removesuffix(".0")
            return f"{value.replace('.', ',') if lang == 'id' else value} {unit}"
    return f"{count} B"


def limits_text(session_s: int, quota_time_s: int | None, quota_bytes: int | None,
                lang: str) -> str:
    """What a hotspot offers, up front, from its session timeout and daily quota:
    'Gratis 2 jam per sesi, 4 jam dan 2 GB per hari', or 'Gratis 2 jam dan 2 GB per hari'
    when a day's time is one session."""
    daily = [] if quota_time_s is None else [duration_text(quota_time_s, lang)]
    if quota_bytes is not None:
        daily.append(bytes_text(quota_bytes, lang))
    per_day = f" {t('and', lang)} ".join(daily) + f" {t('per_day', lang)}"
    if quota_time_s == session_s:
        return f"{t('offer', lang)} {per_day}"
    text = f"{t('offer', lang)} {duration_text(session_s, lang)} {t('per_session', lang)}"
    return f"{text}, {per_day}" if daily else text
