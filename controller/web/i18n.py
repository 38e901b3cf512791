"""The engineers' UI in Bahasa Indonesia (default) and English: templates write English keys."""

from __future__ import annotations

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"

# English text -> Bahasa Indonesia. A key missing here shows in English in both languages,
# and tests/unit/test_web_i18n.py fails for any template string not listed.
ID: dict[str, str] = {
    "Dashboard": "Dasbor",
    "Sites": "Lokasi",
    "Site": "Lokasi",
    "Devices": "Perangkat",
    "Device": "Perangkat",
    "Links": "Tautan",
    "Hotspots": "Hotspot",
    "Config push": "Dorong konfigurasi",
    "Users": "Pengguna",
    "Audit log": "Log audit",
    "Log out": "Keluar",
    "Log in": "Masuk",
    "Username": "Nama pengguna",
    "Password": "Kata sandi",
    "Change password": "Ganti kata sandi",
    "Current password": "Kata sandi saat ini",
    "New password": "Kata sandi baru",
    "Save": "Simpan",
    "Network command centre": "Pusat kendali jaringan",
    "Wrong username or password, or the account is locked (for 15 minutes after 5 failed "
    "logins) or disabled.":
        "Nama pengguna atau kata sandi salah, atau akun dikunci (15 menit setelah 5 kali gagal "
        "masuk) atau dinonaktifkan.",
    "Too many attempts from your address. Wait a minute.":
        "Terlalu banyak percobaan dari alamat Anda. Tunggu satu menit.",
    "Password changed.": "Kata sandi diganti.",
    "Reset password": "Atur ulang kata sandi",
    "New password for": "Kata sandi baru untuk",
    "Give it to them in person; it is not shown again. Their sessions were ended and their "
    "API tokens revoked.":
        "Berikan langsung kepada yang bersangkutan; kata sandi ini tidak ditampilkan lagi. "
        "Sesinya telah diakhiri dan token API-nya dicabut.",
    "A wall screen's token: open /wall?token= followed by the token on the screen, once; the "
    "screen keeps a session tied to the token.":
        "Token layar dinding: buka /wall?token= diikuti token itu di layar, sekali; layar "
        "menyimpan sesi yang terikat pada token.",
    "Wall screen token": "Token layar dinding",
    "For a display account (made if it does not exist): it sees /wall only. Only these tokens "
    "may never expire.":
        "Untuk akun tampilan (dibuat bila belum ada): hanya melihat /wall. Hanya token ini yang "
        "boleh tanpa masa berlaku.",
    "Display account": "Akun tampilan",
    "Devices up": "Perangkat aktif",
    "Devices down": "Perangkat mati",
    "Not polled yet": "Belum dipantau",
    "Hotspot sessions now": "Sesi hotspot saat ini",
    "Top offices by use against allocation": "Kantor teratas menurut pemakaian terhadap alokasi",
    "Map of sites": "Peta lokasi",
    "Name": "Nama",
    "Code": "Kode",
    "Kind": "Jenis",
    "Address": "Alamat",
    "Contact": "Kontak",
    "Allocation": "Alokasi",
    "Use": "Pemakaian",
    "Download": "Unduh",
    "Upload": "Unggah",
    "Status": "Status",
    "Platform": "Platform",
    "Role": "Peran",
    "Management address": "Alamat manajemen",
    "Up": "Aktif",
    "Down": "Mati",
    "Unknown": "Tidak diketahui",
    "Medium": "Media",
    "Capacity": "Kapasitas",
    "Bandwidth against allocation": "Bandwidth terhadap alokasi",
    "No readings yet.": "Belum ada data.",
    "Backups": "Cadangan",
    "Drift": "Penyimpangan",
    "In sync": "Sesuai",
    "Drifted": "Menyimpang",
    "Not checked": "Belum diperiksa",
    "When": "Waktu",
    "Who": "Oleh",
    "Action": "Aksi",
    "Target": "Sasaran",
    "Result": "Hasil",
    "Filter": "Saring",
    "All": "Semua",
    "Add user": "Tambah pengguna",
    "Disable": "Nonaktifkan",
    "Enable": "Aktifkan",
    "Disabled": "Nonaktif",
    "Active": "Aktif",
    "API tokens": "Token API",
    "Create token": "Buat token",
    "Copy this token now; it is not shown again.":
        "Salin token ini sekarang; token tidak ditampilkan lagi.",
    "Created": "Dibuat",
    "Expires after": "Kedaluwarsa setelah",
    "days": "hari",
    "Never": "Tidak pernah",
    "Last used": "Terakhir dipakai",
    "Revoke": "Cabut",
    "Expired": "Kedaluwarsa",
    "Revoked": "Dicabut",
    "A password change revokes all of that user's tokens.":
        "Mengganti kata sandi mencabut semua token milik pengguna itu.",
    "Choose targets": "Pilih sasaran",
    "Preview diff": "Pratinjau perbedaan",
    "Confirm push": "Konfirmasi dorong",
    "Unchanged": "Tidak berubah",
    "Changed": "Berubah",
    "Failed": "Gagal",
    "Rolled back": "Dikembalikan",
    "Pending": "Menunggu",
    "Running": "Berjalan",
    "Active sessions": "Sesi aktif",
    "Disconnect": "Putuskan",
    "Vouchers": "Voucher",
    "Create vouchers": "Buat voucher",
    "Print": "Cetak",
    "Login stats": "Statistik login",
    "Count": "Jumlah",
    "Validity (days)": "Masa berlaku (hari)",
    "Duration": "Durasi",
    "Uses": "Pemakaian",
    "Started": "Mulai",
    "Expires": "Berakhir",
    "Method": "Metode",
    "Language": "Bahasa",
    "You do not have permission for this.": "Anda tidak berwenang untuk ini.",
    "The form expired or was not sent from this site. Reload and try again.":
        "Formulir kedaluwarsa atau tidak dikirim dari situs ini. Muat ulang dan coba lagi.",
    "Page not found.": "Halaman tidak ditemukan.",
    "Back": "Kembali",
    "none": "tidak ada",
    "Showing": "Menampilkan",
    "of": "dari",
    "Select all": "Pilih semua",
    "Result of push": "Hasil dorong",
    "Diff": "Perbedaan",
    "Error": "Galat",
    "Viewer": "Pengamat",
    "Operator": "Operator",
    "Admin": "Admin",
    # Office bandwidth (pages/bandwidth.py, bandwidth.html)
    "Office bandwidth": "Bandwidth kantor",
    "Month": "Bulan",
    "Month: write it as YYYY-MM, for example 2026-10.":
        "Bulan: tulis sebagai TTTT-BB (tahun-bulan), misalnya 2026-10.",
    "Previous month": "Bulan sebelumnya",
    "Next month": "Bulan berikutnya",
    "Show": "Tampilkan",
    "Each office's real use against its allocation over the month, busiest first.":
        "Pemakaian nyata tiap kantor terhadap alokasinya selama sebulan, tersibuk lebih dulu.",
    "Allocation changed in the inventory": "Alokasi diubah di inventaris",
    "Written to the audit log.": "Dicatat di log audit.",
    "The routers change only after the normal config push: review the queue change under":
        "Router baru berubah setelah dorong konfigurasi biasa: periksa perubahan antrean di",
    "then confirm the push.": "lalu konfirmasi dorong.",
    "No change is recommended for this site in this month; nothing was written.":
        "Tidak ada perubahan yang direkomendasikan untuk lokasi ini pada bulan ini; "
        "tidak ada yang ditulis.",
    "The change was refused; the inventory was not changed.":
        "Perubahan ditolak; inventaris tidak diubah.",
    "Monthly report": "Laporan bulanan",
    "in Bahasa Indonesia": "dalam Bahasa Indonesia",
    "No traffic figures for this month: the store has no bandwidth rollups for it.":
        "Belum ada angka lalu lintas untuk bulan ini: basis data belum berisi rekapan "
        "bandwidth bulan tersebut.",
    "Figures fill in by themselves while simpul serve polls the office routers. For the "
    "demo, fill a month of synthetic history with:":
        "Angka terisi sendiri selama simpul serve memantau router kantor. Untuk demo, isi "
        "sebulan riwayat sintetis dengan:",
    "Ranking": "Peringkat",
    "Rates in Mbit/s, volume in GB; each cell is download / upload. Busiest first: by p95 "
    "utilisation of the allocation in force, then by volume.":
        "Laju dalam Mbit/s, volume dalam GB; tiap sel berisi unduh / unggah. Tersibuk lebih "
        "dulu: menurut utilisasi p95 terhadap alokasi yang berlaku, lalu menurut volume.",
    "Office": "Kantor",
    "Average": "Rata-rata",
    "Peak": "Puncak",
    "Volume": "Volume",
    "Hours above 80%": "Jam di atas 80%",
    "p95 utilisation": "Utilisasi p95",
    "Coverage": "Cakupan data",
    "Flags": "Tanda",
    "No data": "Tidak ada data",
    "Saturated": "Jenuh",
    "Under-used": "Kurang terpakai",
    "Recommendations": "Rekomendasi",
    "Proposed allocation: p95 in office hours plus 25% headroom, rounded up; changes under "
    "10% are not proposed.":
        "Usulan alokasi: p95 pada jam kerja ditambah cadangan 25%, dibulatkan ke atas; "
        "perubahan di bawah 10% tidak diusulkan.",
    "Current": "Saat ini",
    "Proposed": "Usulan",
    "p95 in office hours": "p95 pada jam kerja",
    "Reduce": "Kurangi",
    "Increase": "Tambah",
    "of the allocation": "dari alokasi",
    "Peak of the month": "Puncak bulan ini",
    "Floor": "Batas bawah",
    "Saturated under the proposal": "Jenuh dengan usulan",
    "now": "saat ini",
    "Never below the site's floor in any time window (office hours, after hours, weekends). "
    "Saturated: hours whose 5-minute rate exceeded the allocation in force.":
        "Tidak pernah di bawah batas bawah lokasi pada jendela waktu mana pun (jam kerja, luar "
        "jam kerja, akhir pekan). Jenuh: jam dengan laju 5 menit melebihi alokasi yang berlaku.",
    "Accept": "Terima",
    "No office needs a change this month.": "Tidak ada kantor yang perlu diubah bulan ini.",
    "Freed by reductions": "Dibebaskan oleh pengurangan",
    "Needed by saturated offices": "Dibutuhkan kantor yang jenuh",
    "Spare for public WiFi": "Sisa untuk WiFi publik",
    "Where the freed capacity can go": "Ke mana kapasitas yang dibebaskan dapat dialihkan",
    "Extra": "Tambahan",
    "Why": "Alasan",
    "Public WiFi, by its hours above 80% of its allocation":
        "WiFi publik, menurut jam di atas 80% alokasinya",
    "Office saturated: raise its allocation": "Kantor jenuh: naikkan alokasinya",
    "Accepting edits the office's allocation line in the inventory and writes the audit log; "
    "the routers change only with the normal config push (diff, then confirm).":
        "Menerima rekomendasi mengubah baris alokasi kantor di inventaris dan mencatat log "
        "audit; router baru berubah lewat dorong konfigurasi biasa (perbedaan, lalu "
        "konfirmasi).",
    # inventory reload (controller/inventory/watch.py)
    "The inventory files on disk have problems, so they were not loaded; the last good "
    "inventory stays in force until they are fixed:":
        "Berkas inventaris di disk bermasalah sehingga tidak dimuat; inventaris terakhir yang "
        "valid tetap berlaku sampai masalahnya diperbaiki:",
    "and more": "dan lainnya",
    # site kinds (KIND_LABELS)
    "Network operations centre (NOC)": "Pusat operasi jaringan (NOC)",
    "Government office (SOPD)": "Perangkat daerah (SOPD)",
    "Sub-district (kecamatan)": "Kecamatan",
    "Urban village (kelurahan)": "Kelurahan",
    "Village (desa)": "Desa",
    "Public WiFi hotspot": "Titik WiFi publik",
    # interrupted config pushes (controller/pushes.py)
    "This push was interrupted: the controller stopped before it finished. Devices not pushed:":
        "Dorongan ini terputus: pengendali berhenti sebelum selesai. Perangkat yang belum "
        "didorong:",
    "Preview and push them again": "Pratinjau dan dorong lagi",
    "Interrupted": "Terputus",
    # costs in rupiah (controller/accountability/costs.py)
    "In force now": "Sudah berlaku",
    "Paid to ISPs": "Dibayar ke ISP",
    "Costs in rupiah": "Biaya dalam rupiah",
    "Each office's allocation as its share of the ISP contracts (by the allocation in force, "
    "hour by hour, that month); unused: the part of that cost above its p95 utilisation; "
    "savings: against what it paid for its own internet before centralising.":
        "Alokasi tiap kantor sebagai bagiannya dari kontrak ISP (menurut alokasi yang berlaku, "
        "jam demi jam, pada bulan itu); tak terpakai: bagian biaya di atas utilisasi p95-nya; "
        "penghematan: dibanding biaya internet sendiri sebelum terpusat.",
    "Paid (ISP contracts)": "Dibayar (kontrak ISP)",
    "Used": "Terpakai",
    "Paid but unused": "Dibayar tapi tak terpakai",
    "Savings against before": "Penghematan dibanding sebelumnya",
    "After hours to public WiFi": "Di luar jam kerja untuk WiFi publik",
    "hours": "jam",
    "Allocation cost": "Biaya alokasi",
    "Unused": "Tak terpakai",
    "Before centralising": "Sebelum terpusat",
    "Savings": "Penghematan",
    "Extra from the schedule": "Tambahan dari jadwal",
    # availability and ISP SLA (controller/accountability/sla.py)
    "Availability and ISP SLA": "Ketersediaan dan SLA ISP",
    "Down: every ICMP probe lost, or the uplink interface down, for this many samples in a "
    "row:": "Turun: semua probe ICMP hilang, atau antarmuka uplink mati, selama sekian sampel "
            "berturut-turut:",
    "Minutes without data (Simpul itself down) and planned maintenance are left out of the "
    "SLA base.": "Menit tanpa data (Simpul sendiri mati) dan pemeliharaan terencana tidak "
                 "dihitung dalam dasar SLA.",
    "SLA report": "Laporan SLA",
    "ISP links together": "Seluruh link ISP",
    "Sites together": "Seluruh lokasi",
    "SLA credit to claim": "Kredit SLA yang dapat diklaim",
    "Provider": "Penyedia",
    "Link": "Link",
    "Availability": "Ketersediaan",
    "SLA target": "Target SLA",
    "SLA": "SLA",
    "Outages": "Gangguan",
    "Down (minutes)": "Turun (menit)",
    "Unknown (minutes)": "Tanpa data (menit)",
    "Credit": "Kredit",
    "Zone": "Zona",
    "Met": "Terpenuhi",
    "Missed": "Tidak terpenuhi",
    "ISP availability this month so far": "Ketersediaan ISP bulan ini sejauh ini",
    "Sites' availability this month so far": "Ketersediaan lokasi bulan ini sejauh ini",
    # Safe pushes (issue #18): the list, staged rollout, abort, four eyes, confirmations.
    "Past pushes": "Riwayat dorong",
    "State": "Status",
    "Asked by": "Diminta oleh",
    "Approved by": "Disetujui oleh",
    "Continued by": "Dilanjutkan oleh",
    "Aborted by": "Dibatalkan oleh",
    "Protected": "Dilindungi",
    "Protected sites:": "Lokasi yang dilindungi:",
    "No pushes yet": "Belum ada dorong",
    "Newer": "Lebih baru",
    "Older": "Lebih lama",
    "Pages": "Halaman",
    "Awaiting approval": "Menunggu persetujuan",
    "Paused": "Dijeda",
    "Done": "Selesai",
    "Aborted": "Dibatalkan",
    "Approve push": "Setujui dorong",
    "Push the rest": "Dorong sisanya",
    "Abort push": "Batalkan dorong",
    "This push touches a protected site and waits for a second operator's approval:":
        "Dorong ini menyentuh lokasi yang dilindungi dan menunggu persetujuan operator kedua:",
    "You asked for this push: another operator must approve it.":
        "Anda yang meminta dorong ini: operator lain harus menyetujuinya.",
    "Staged push: the first devices are done. Check them, then push the rest or abort.":
        "Dorong bertahap: perangkat pertama selesai. Periksa, lalu dorong sisanya atau batalkan.",
    "This push will wait for a second operator's approval.":
        "Dorong ini akan menunggu persetujuan operator kedua.",
    "Staged: push the first N devices, then pause":
        "Bertahap: dorong N perangkat pertama, lalu jeda",
    "pushes wait for a second operator's approval": "dorong menunggu persetujuan operator kedua",
    "Please confirm": "Mohon konfirmasi",
    "Yes, do it": "Ya, lakukan",
    "Cancel": "Batal",
    "Disconnect this session?": "Putuskan sesi ini?",
    "Accept this recommendation?": "Terima rekomendasi ini?",
    "Deactivate this user?": "Nonaktifkan pengguna ini?",
    # Four eyes for cuts of protected sites (#18)
    "Cuts awaiting approval": "Pemotongan menunggu persetujuan",
    "A cut of a protected site's allocation is written only when a second operator, not the "
    "one who asked, approves it.": "Pemotongan alokasi lokasi yang dilindungi baru ditulis "
    "setelah operator kedua, bukan yang memintanya, menyetujuinya.",
    "Reason": "Alasan",
    "Approve cut": "Setujui pemotongan",
    "Reject cut": "Tolak pemotongan",
    "Approve this cut?": "Setujui pemotongan ini?",
    "Reject this cut?": "Tolak pemotongan ini?",
    "You asked for this cut: another operator must approve it.":
        "Anda yang meminta pemotongan ini: operator lain harus menyetujuinya.",
    "No cut waits for approval": "Tidak ada pemotongan yang menunggu persetujuan",
    "Decided": "Diputuskan",
    "Decided by": "Diputuskan oleh",
    "Approved": "Disetujui",
    "Rejected": "Ditolak",
    "cuts wait for a second operator's approval":
        "pemotongan menunggu persetujuan operator kedua",
    # device health (#18)
    "Health": "Kesehatan",
    "Ok": "Baik",
    "Warning": "Peringatan",
    "No SNMP answer": "Tidak ada jawaban SNMP",
    "Uptime": "Waktu aktif",
    "CPU": "CPU",
    "5-minute average": "rata-rata 5 menit",
    "1-minute average": "rata-rata 1 menit",
    "Memory": "Memori",
    "Temperature": "Suhu",
    "not reported": "tidak dilaporkan",
    "Last backup": "Cadangan terakhir",
    "Reachability (ICMP), last hour": "Keterjangkauan (ICMP), satu jam terakhir",
    "From": "Mulai",
    "Round-trip time": "Waktu pulang-pergi",
    "Loss": "Hilang",
    "Echoes": "Echo",
    "No probe results yet (ICMP probes need root).":
        "Belum ada hasil probe (probe ICMP perlu root).",
    "Interfaces": "Antarmuka",
    "Interface": "Antarmuka",
    "Speed": "Kecepatan",
    "In": "Masuk",
    "Out": "Keluar",
    "Errors in/out": "Galat masuk/keluar",
    "Use is over the last poll interval; errors are the device's counters, read with the "
    "interface names (+ new since the reading before).":
        "Pemakaian selama interval pemantauan terakhir; galat adalah penghitung perangkat, "
        "dibaca bersama nama antarmuka (+ baru sejak pembacaan sebelumnya).",
    # graphs (templates/_graph.html) and the map (map.js)
    "Time range": "Rentang waktu", "1 hour": "1 jam", "24 hours": "24 jam", "7 days": "7 hari",
    "30 days": "30 hari", "Numbers as a table": "Angka dalam tabel", "Time": "Waktu",
    "Average use per row against the allocation in force at its start":
        "Rata-rata pemakaian per baris terhadap alokasi yang berlaku di awal baris",
    "Average use per row against the limit in force at its start":
        "Rata-rata pemakaian per baris terhadap batas yang berlaku di awal baris",
    "Committed (contract)": "Komitmen (kontrak)",
    "ISP link use against the committed capacity":
        "Pemakaian link ISP terhadap kapasitas komitmen",
    "Interface use against its speed": "Pemakaian antarmuka terhadap kecepatannya",
    "Measured at": "Diukur di",
    "In: received by the interface; Out: sent by it.":
        "Masuk: diterima antarmuka; Keluar: dikirim olehnya.",
    "Graph": "Grafik", "Traffic graphs": "Grafik lalu lintas",
    "Interfaces with a graph": "Antarmuka dengan grafik",
    "Legend": "Keterangan", "of capacity": "dari kapasitas",
    "Link use below 50%": "Pemakaian tautan di bawah 50%",
    "Link use 50-80%": "Pemakaian tautan 50-80%",
    "Link use 80% or more": "Pemakaian tautan 80% atau lebih",
    "Link without a reading": "Tautan tanpa pembacaan",
    "Link with an end down": "Tautan dengan ujung mati",
}


# A site's `kind` as engineers read it (English key; the Indonesian is in ID).
KIND_LABELS = {
    "noc": "Network operations centre (NOC)", "sopd": "Government office (SOPD)",
    "kecamatan": "Sub-district (kecamatan)", "kelurahan": "Urban village (kelurahan)",
    "desa": "Village (desa)", "hotspot": "Public WiFi hotspot",
}


def kind_label(kind: str, lang: str) -> str:
    return translate(KIND_LABELS.get(kind, kind), lang)


def translate(text: str, lang: str) -> str:
    if lang == "id":
        return ID.get(text, text)
    return text
