"""Citizen-facing text: Bahasa Indonesia first, English second. Keys are stable codes."""

from __future__ import annotations

LANGS = ("id", "en")

TEXT: dict[str, tuple[str, str]] = {
    "welcome": ("Selamat datang di WiFi publik gratis", "Welcome to free public WiFi"),
    "terms": ("Syarat penggunaan", "Terms of use"),
    "accept": ("Saya menyetujui syarat penggunaan", "I accept the terms of use"),
    "connect": ("Sambungkan", "Connect"),
    "voucher": ("Kode voucher", "Voucher code"),
    "voucher_hint": ("Contoh: ABCD-EFGH", "Example: ABCD-EFGH"),
    "use_voucher": ("Masuk dengan voucher", "Log in with a voucher"),
    "phone": ("Nomor HP", "Mobile number"),
    "phone_hint": ("Contoh: 0812 3456 7890", "Example: 0812 3456 7890"),
    "send_code": ("Kirim kode lewat SMS", "Send a code by SMS"),
    "code": ("Kode dari SMS (6 angka)", "Code from the SMS (6 digits)"),
    "code_sent": ("Kode telah dikirim lewat SMS ke nomor Anda.",
                  "A code has been sent by SMS to your number."),
    "verify": ("Masuk", "Log in"),
    "or": ("atau", "or"),
    "connected": ("Anda sudah terhubung ke internet", "You are connected to the internet"),
    "remaining": ("Sisa waktu", "Time remaining"),
    "minutes": ("menit", "minutes"),
    "close_hint": ("Anda dapat menutup halaman ini.", "You can close this page."),
    "public_page": ("Capaian WiFi publik dan belanja internet pemerintah daerah",
                    "Public WiFi reach and the regency's internet spending"),
    "back": ("Kembali", "Back"),
    "error_title": ("Maaf", "Sorry"),
    "other_lang": ("English", "Bahasa Indonesia"),
    "privacy": ("Kami hanya menyimpan data sesi seperlunya dan menghapusnya setelah {days} hari.",
                "We keep only the session data we need and delete it after {days} days."),
}

ERRORS: dict[str, tuple[str, str]] = {
    "not_on_hotspot": ("Perangkat Anda tidak terhubung ke WiFi publik kami.",
                       "Your device is not connected to our public WiFi."),
    "no_mac": ("Perangkat Anda belum dikenali oleh gateway. Sambungkan ulang WiFi lalu coba lagi.",
               "The gateway does not know your device yet. Reconnect to the WiFi and try again."),
    "gateway_error": ("Gateway hotspot sedang tidak dapat dihubungi. Coba lagi sebentar lagi.",
                      "The hotspot gateway cannot be reached. Please try again shortly."),
    "mode_not_offered": ("Cara masuk ini tidak tersedia di hotspot ini.",
                         "This login method is not offered at this hotspot."),
    "terms_not_accepted": ("Centang persetujuan syarat penggunaan terlebih dahulu.",
                           "Please tick the box to accept the terms of use first."),
    "rate_limited": ("Terlalu banyak percobaan. Tunggu satu menit lalu coba lagi.",
                     "Too many attempts. Wait a minute and try again."),
    "quota_exhausted": ("Kuota harian Anda sudah habis. Silakan coba lagi besok.",
                        "Your daily quota is used up. Please try again tomorrow."),
    "voucher_format": ("Kode voucher harus 8 huruf/angka, contoh ABCD-EFGH.",
                       "A voucher code is 8 letters/digits, e.g. ABCD-EFGH."),
    "voucher_unknown": ("Kode voucher tidak dikenal untuk hotspot ini.",
                        "The voucher code is not known at this hotspot."),
    "voucher_expired": ("Masa berlaku voucher sudah lewat.", "The voucher has expired."),
    "voucher_used": ("Voucher ini sudah habis dipakai.", "This voucher has been used up."),
    "phone_format": (
        "Nomor HP tidak valid. Gunakan nomor seluler Indonesia, contoh 0812 3456 7890.",
        "Invalid mobile number. Use an Indonesian mobile number, e.g. 0812 3456 7890."),
    "otp_format": ("Kode harus 6 angka.", "The code must be 6 digits."),
    "otp_none": ("Belum ada kode untuk nomor ini. Minta kode terlebih dahulu.",
                 "There is no code for this number yet. Request a code first."),
    "otp_expired": ("Kode sudah kedaluwarsa. Minta kode baru.",
                    "The code has expired. Request a new one."),
    "otp_wrong": ("Kode salah. Periksa SMS Anda lalu coba lagi.",
                  "Wrong code. Check your SMS and try again."),
    "otp_attempts": ("Terlalu banyak kode salah. Minta kode baru.",
                     "Too many wrong codes. Request a new code."),
    "otp_send_limit": ("Batas pengiriman kode tercapai. Coba lagi dalam satu jam.",
                       "Code sending limit reached. Try again in an hour."),
    "otp_device_limit": (
        "Terlalu banyak kode diminta dari perangkat ini. Coba lagi nanti atau gunakan cara masuk "
        "lain.",
        "Too many codes were requested from this device. Try again later or use another way to "
        "log in."),
    "sms_budget": ("Kode SMS sedang tidak tersedia. Gunakan cara masuk lain atau coba lagi nanti.",
                   "SMS codes are not available right now. Use another way to log in or try "
                   "again later."),
    "form_expired": ("Formulir sudah kedaluwarsa. Silakan coba lagi.",
                     "The form has expired. Please try again."),
    "sms_error": ("SMS tidak dapat dikirim saat ini. Coba lagi nanti.",
                  "The SMS cannot be sent right now. Try again later."),
    "bad_request": ("Permintaan tidak valid.", "Invalid request."),
}


def lang_of(value: str | None) -> str:
    return value if value in LANGS else "id"


def t(key: str, lang: str) -> str:
    pair = TEXT.get(key) or ERRORS.get(key) or ERRORS["bad_request"]
    return pair[1] if lang == "en" else pair[0]
