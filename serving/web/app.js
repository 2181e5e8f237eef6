// arus web dashboard: plain JavaScript over /api/v1, no build step.
// Bahasa Indonesia first, English on request; charts are the server's SVG;
// live updates from /api/v1/events (server-sent events read with fetch so
// the bearer token goes in a header, never in a URL).
"use strict";

const T = {
  id: {
    skip: "Langsung ke isi", language: "Bahasa", logout: "Keluar",
    offline: "Anda sedang offline: data terakhir ditampilkan, perubahan dinonaktifkan.",
    "nav.overview": "Ringkasan", "nav.transactions": "Transaksi", "nav.plans": "Anggaran & Target", "nav.import": "Impor & Struk", "nav.insights": "Wawasan & Laporan",
    "login.title": "Masuk ke arus", "login.name": "Email atau nomor HP", "login.password": "Kata sandi", "login.submit": "Masuk", "login.failed": "Login atau kata sandi salah.",
    "chart.cashflow": "Arus kas 6 bulan", "chart.categories": "Pengeluaran bulan ini per kategori", recent: "Transaksi terbaru", partners: "Mitra binaan",
    income: "Pemasukan", expense: "Pengeluaran", net: "Selisih", savings: "Tingkat tabungan", "vs.prev": "bulan lalu",
    "f.from": "Dari", "f.to": "Sampai", "f.category": "Kategori", "f.status": "Status", "f.all": "Semua", "f.search": "Cari", "f.apply": "Terapkan",
    "s.needs_review": "Perlu dicek", "s.ai_predicted": "Tebakan AI", "s.user_confirmed": "Sudah dikonfirmasi", "s.pending_category": "Belum berkategori",
    "t.date": "Tanggal", "t.what": "Keterangan", "t.amount": "Jumlah", "t.category": "Kategori", "t.status": "Status", more: "Muat lagi",
    confirm: "Benar", "confirm.label": "Konfirmasi kategori", "category.of": "Kategori untuk", saved: "Tersimpan.", none: "Belum ada data.",
    "manual.title": "Catat transaksi", "manual.amount": "Jumlah (Rp, minus untuk keluar)", "manual.what": "Keterangan", "manual.save": "Simpan",
    budgets: "Anggaran bulan ini", goals: "Target tabungan", "budget.amount": "Batas per bulan (Rp)", "budget.save": "Simpan anggaran",
    "goal.name": "Nama target", "goal.target": "Jumlah (Rp)", "goal.deadline": "Tenggat", "goal.save": "Simpan target", "of": "dari", "by": "sampai",
    "import.title": "Mutasi rekening (CSV, XLSX, XLS)", "import.file": "Pilih file mutasi", "import.submit": "Unggah & impor",
    "import.pending": "Menunggu diproses…", "import.running": "Sedang mengimpor: {n} baris terbaca…", "import.completed": "Impor selesai: {imported} diimpor, {duplicates} duplikat, {rejected} ditolak.", "import.failed": "Impor gagal: {message}",
    "receipt.title": "Foto struk atau buku kas", "receipt.file": "Pilih foto", "receipt.submit": "Unggah & baca", "receipt.reading": "Sedang dibaca…",
    "receipt.review": "Periksa hasil bacaan lalu konfirmasi:", "receipt.parsed": "Terbaca dan sudah dicatat:", "receipt.failed": "Foto tidak bisa dibaca: {message}", "receipt.confirm": "Konfirmasi & catat", "receipt.confirmed": "Dicatat.",
    merchant: "Toko", total: "Total (Rp)", date: "Tanggal",
    insights: "Wawasan", forecast: "Perkiraan saldo 30 hari", reports: "Laporan", "report.period": "Periode (2026-10 atau 2026-Q3)", "report.csv": "Unduh CSV", "report.xlsx": "Unduh Excel",
    "forecast.text": "Perkiraan saldo {date}: {point} (kisaran {lower} – {upper}).",
    "live.txn": "Transaksi baru: {what} {amount}", "live.alert": "Peringatan: {title}", "live.tier": "Tier mitra: {title}",
    tier: "Tier", trend: "Tren", last: "Aktivitas terakhir", "net30": "Selisih 30 hari",
  },
  en: {
    skip: "Skip to content", language: "Language", logout: "Log out",
    offline: "You are offline: showing the last data, changes are disabled.",
    "nav.overview": "Overview", "nav.transactions": "Transactions", "nav.plans": "Budgets & goals", "nav.import": "Import & receipts", "nav.insights": "Insights & reports",
    "login.title": "Log in to arus", "login.name": "Email or phone number", "login.password": "Password", "login.submit": "Log in", "login.failed": "Wrong login or password.",
    "chart.cashflow": "Cash flow, 6 months", "chart.categories": "Spending this month by category", recent: "Latest transactions", partners: "Partners",
    income: "Income", expense: "Spending", net: "Net", savings: "Savings rate", "vs.prev": "last month",
    "f.from": "From", "f.to": "To", "f.category": "Category", "f.status": "Status", "f.all": "All", "f.search": "Search", "f.apply": "Apply",
    "s.needs_review": "Needs review", "s.ai_predicted": "AI guess", "s.user_confirmed": "Confirmed", "s.pending_category": "No category yet",
    "t.date": "Date", "t.what": "Description", "t.amount": "Amount", "t.category": "Category", "t.status": "Status", more: "Load more",
    confirm: "Correct", "confirm.label": "Confirm category", "category.of": "Category for", saved: "Saved.", none: "Nothing yet.",
    "manual.title": "Record a transaction", "manual.amount": "Amount (Rp, minus for money out)", "manual.what": "Description", "manual.save": "Save",
    budgets: "This month's budgets", goals: "Savings goals", "budget.amount": "Monthly limit (Rp)", "budget.save": "Save budget",
    "goal.name": "Goal name", "goal.target": "Amount (Rp)", "goal.deadline": "Deadline", "goal.save": "Save goal", "of": "of", "by": "by",
    "import.title": "Bank statement (CSV, XLSX, XLS)", "import.file": "Choose the statement file", "import.submit": "Upload & import",
    "import.pending": "Waiting to start…", "import.running": "Importing: {n} rows read…", "import.completed": "Import finished: {imported} imported, {duplicates} duplicates, {rejected} rejected.", "import.failed": "Import failed: {message}",
    "receipt.title": "Receipt or cash-book photo", "receipt.file": "Choose a photo", "receipt.submit": "Upload & read", "receipt.reading": "Reading…",
    "receipt.review": "Check what was read, then confirm:", "receipt.parsed": "Read and recorded:", "receipt.failed": "The photo could not be read: {message}", "receipt.confirm": "Confirm & record", "receipt.confirmed": "Recorded.",
    merchant: "Shop", total: "Total (Rp)", date: "Date",
    insights: "Insights", forecast: "Balance forecast, 30 days", reports: "Reports", "report.period": "Period (2026-10 or 2026-Q3)", "report.csv": "Download CSV", "report.xlsx": "Download Excel",
    "forecast.text": "Expected balance on {date}: {point} (range {lower} – {upper}).",
    "live.txn": "New transaction: {what} {amount}", "live.alert": "Alert: {title}", "live.tier": "Partner tier: {title}",
    tier: "Tier", trend: "Trend", last: "Last activity", "net30": "Net, 30 days",
  },
};

const S = {
  // Bahasa Indonesia first; English when chosen (remembered).
  lang: localStorage.getItem("arus.lang") || "id",
  token: localStorage.getItem("arus.token"),
  refresh: localStorage.getItem("arus.refresh"),
  user: JSON.parse(localStorage.getItem("arus.user") || "null"),
  categories: [],
  cursor: null,
  live: null,
  turn: 0,
};

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
const t = (key, vars = {}) => (T[S.lang][key] || T.id[key] || key).replace(/\{(\w+)\}/g, (_, k) => (vars[k] ?? ""));
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) e.append(c);
  return e;
};

function rupiah(n) {
  const s = Math.abs(n).toLocaleString(S.lang === "id" ? "id-ID" : "en-US", { maximumFractionDigits: 0 });
  return (n < 0 ? "-" : "") + "Rp " + s;
}
function parseRupiah(text) {
  const clean = String(text).replace(/[^0-9-]/g, "");
  return clean === "" || clean === "-" ? NaN : parseInt(clean, 10);
}
function categoryName(id) {
  const c = S.categories.find((c) => c.id === id);
  return c ? (S.lang === "id" ? c.name_id : c.name_en) : (id || "—");
}
function dayOf(iso) {
  return new Date(iso).toLocaleDateString(S.lang === "id" ? "id-ID" : "en-GB", { timeZone: "Asia/Jakarta", day: "numeric", month: "short", year: "numeric" });
}

function translate() {
  document.documentElement.lang = S.lang;
  $$("[data-i18n]").forEach((e) => { e.textContent = t(e.dataset.i18n); });
  $("#nav").setAttribute("aria-label", S.lang === "id" ? "Menu utama" : "Main menu");
  $("#lang").value = S.lang;
}

async function api(path, opts = {}, retry = true) {
  const headers = Object.assign({ "accept-language": S.lang, "x-arus-user": S.user ? S.user.user_id : "anon" }, opts.headers || {});
  if (S.token) headers.authorization = "Bearer " + S.token;
  if (opts.json !== undefined) {
    headers["content-type"] = "application/json";
    opts.body = JSON.stringify(opts.json);
  }
  let res;
  try {
    res = await fetch(path, { method: opts.method || "GET", headers, body: opts.body });
  } catch (e) {
    // No network and nothing kept for it: an answer, not an exception, so a page still draws the rest.
    return { status: 0, ok: false, body: { error: { code: "offline", message: t("offline") } } };
  }
  if (res.status === 401 && retry && S.refresh) {
    const renewed = await refresh();
    if (renewed) return api(path, opts, false);
    // Refused by the server: the session is over. Unreachable: stay, with what is kept offline.
    if (renewed === false) logout();
  }
  const type = res.headers.get("content-type") || "";
  const body = type.includes("json") ? await res.json() : opts.blob ? await res.blob() : await res.text();
  return { status: res.status, ok: res.ok, body };
}

// true: renewed; false: the server refused; null: the server could not be reached.
async function refresh() {
  let res;
  try {
    res = await fetch("/api/v1/auth/refresh", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ refresh_token: S.refresh }) });
  } catch (e) {
    return null;
  }
  if (!res.ok) return false;
  keep(await res.json());
  return true;
}

function keep(pair) {
  S.token = pair.access_token;
  S.refresh = pair.refresh_token;
  S.user = pair.user;
  localStorage.setItem("arus.token", S.token);
  localStorage.setItem("arus.refresh", S.refresh);
  localStorage.setItem("arus.user", JSON.stringify(S.user));
}

function logout() {
  if (S.refresh) fetch("/api/v1/auth/logout", { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer " + S.token }, body: JSON.stringify({ refresh_token: S.refresh }) }).catch(() => {});
  for (const k of ["arus.token", "arus.refresh", "arus.user"]) localStorage.removeItem(k);
  S.token = S.refresh = S.user = null;
  if (S.live) S.live.abort();
  S.live = null;
  // What was kept for offline use leaves with the person.
  if (window.caches) caches.delete("arus-data-v1").catch(() => {});
  location.hash = "#/login";
  route();
}

// ---- pages ----------------------------------------------------------------

const pages = { overview, transactions, plans, import: importPage, insights };

async function route() {
  const name = (location.hash.replace(/^#\//, "") || "overview").split("?")[0];
  const loggedIn = !!S.token;
  $("#nav").hidden = !loggedIn;
  $("#logout").hidden = !loggedIn;
  const page = loggedIn ? (pages[name] ? name : "overview") : "login";
  $$(".page").forEach((p) => { p.hidden = p.id !== "page-" + page; });
  $$("#nav a").forEach((a) => (a.dataset.page === page ? a.setAttribute("aria-current", "page") : a.removeAttribute("aria-current")));
  document.body.dataset.page = page;
  if (!loggedIn) { $("#login-name").focus(); return; }
  if (!S.categories.length) await loadCategories();
  if (!S.live) startLive();
  // Only the latest navigation says its page is ready (an earlier, slower one may finish after it).
  const turn = ++S.turn;
  document.body.dataset.ready = "";
  document.body.dataset.error = "";
  try {
    await pages[page]();
  } catch (e) {
    console.error(e);
    document.body.dataset.error = String(e && e.stack || e);
  } finally {
    if (turn === S.turn) document.body.dataset.ready = page;
  }
}

async function loadCategories() {
  const r = await api("/api/v1/categories");
  if (r.ok) S.categories = r.body;
  $$("select.category-options").forEach((sel) => {
    sel.replaceChildren();
    if (sel.dataset.empty) sel.append(el("option", { value: "", text: t("f.all") }));
    for (const c of S.categories) {
      if (sel.dataset.spending && c.group === "income") continue;
      sel.append(el("option", { value: c.id, text: categoryName(c.id) }));
    }
  });
}

function stat(label, value, note, cls) {
  return el("div", { class: "stat", "data-stat": cls }, el("div", { class: "label", text: label }), el("div", { class: "value " + (cls || ""), text: value }), el("div", { class: "change", text: note || "" }));
}

async function overview() {
  const [sum, cash, cats, recent] = await Promise.all([
    api("/api/v1/dashboard/summary"),
    api("/api/v1/dashboard/charts/cashflow.svg?months=6"),
    api("/api/v1/dashboard/charts/categories.svg"),
    api("/api/v1/transactions?limit=8"),
  ]);
  const box = $("#summary");
  box.replaceChildren();
  if (sum.ok) {
    const c = sum.body.current, p = sum.body.previous;
    box.append(
      stat(t("income"), rupiah(c.income), t("vs.prev") + ": " + rupiah(p.income), "in"),
      stat(t("expense"), rupiah(c.expense), t("vs.prev") + ": " + rupiah(p.expense), "out"),
      stat(t("net"), rupiah(c.net), t("vs.prev") + ": " + rupiah(p.net), c.net >= 0 ? "in" : "out"),
      stat(t("savings"), c.savings_rate_pct == null ? "—" : c.savings_rate_pct.toLocaleString(S.lang) + "%", ""),
    );
  }
  // The server's own SVG (same origin, text escaped there).
  $("#chart-cashflow").innerHTML = cash.ok ? cash.body : "";
  $("#chart-categories").innerHTML = cats.ok ? cats.body : "";
  const list = $("#recent");
  list.replaceChildren();
  if (recent.ok) for (const txn of recent.body.items) list.append(feedItem(txn));
  if (!list.children.length) list.append(el("li", { text: t("none") }));
  if (S.user && ["officer", "analyst", "admin"].includes(S.user.role)) {
    const r = await api("/api/v1/dashboard/partners");
    $("#partners-box").hidden = !r.ok;
    if (r.ok) $("#partners").replaceChildren(partnerTable(r.body));
  }
}

function feedItem(txn, fresh) {
  return el("li", { class: fresh ? "new" : "", "data-id": txn.id },
    el("span", { text: dayOf(txn.occurred_at) + " · " + txn.description + " · " }),
    el("strong", { class: txn.amount < 0 ? "out" : "in", text: rupiah(txn.amount) }),
    el("span", { text: " · " + categoryName(txn.category_id) }));
}

function partnerTable(cards) {
  const table = el("table", {}, el("thead", {}, el("tr", {}, ...["t.what", "tier", "trend", "net30", "last"].map((k) => el("th", { scope: "col", text: t(k) })))));
  const body = el("tbody");
  for (const c of cards) {
    const trend = { up: "↑", down: "↓", steady: "→", new: "•", flat: "→" };
    body.append(el("tr", {}, el("td", { text: c.name }), el("td", { text: c.tier ? c.tier.toUpperCase() : "—" }),
      el("td", { text: (trend[c.tier_trend] || "") + " " + (trend[c.cash_trend] || "") }), el("td", { class: "num", text: rupiah(c.net_30d) }), el("td", { text: c.last_activity || "—" })));
  }
  table.append(body);
  return table;
}

async function transactions(more) {
  const form = $("#txn-filter");
  const params = new URLSearchParams();
  for (const [k, v] of new FormData(form)) if (v) params.set(k, v);
  params.set("limit", "50");
  if (more && S.cursor) params.set("cursor", S.cursor);
  const r = await api("/api/v1/transactions?" + params);
  const tbody = $("#txn-table tbody");
  if (!more) tbody.replaceChildren();
  if (!r.ok) return;
  for (const txn of r.body.items) tbody.append(txnRow(txn));
  S.cursor = r.body.next_cursor;
  $("#txn-more").hidden = !S.cursor;
}

function txnRow(txn) {
  const select = el("select", { "aria-label": t("category.of") + " " + txn.description, class: "write" });
  for (const c of S.categories) select.append(el("option", { value: c.id, text: categoryName(c.id), selected: c.id === txn.category_id }));
  const status = el("span", { class: "badge " + txn.status, text: t("s." + txn.status) });
  const button = el("button", { type: "button", class: "secondary write", text: t("confirm"), "aria-label": t("confirm.label") + ": " + txn.description });
  button.hidden = txn.status === "user_confirmed";
  const save = async () => {
    const r = await api("/api/v1/transactions/" + encodeURIComponent(txn.id), { method: "PATCH", json: { category: select.value } });
    if (r.ok) {
      status.className = "badge user_confirmed";
      status.textContent = t("s.user_confirmed");
      button.hidden = true;
      announce(t("saved"));
    } else {
      announce((r.body && r.body.error && r.body.error.message) || String(r.status));
    }
  };
  button.addEventListener("click", save);
  select.addEventListener("change", save);
  return el("tr", { "data-id": txn.id },
    el("td", { text: dayOf(txn.occurred_at) }), el("td", { text: txn.description }),
    el("td", { class: "num " + (txn.amount < 0 ? "out" : "in"), text: rupiah(txn.amount) }),
    el("td", {}, select), el("td", {}, status, " ", button));
}

function bar(label, pct, state, detail) {
  const clamped = Math.max(0, Math.min(100, pct));
  const fill = el("span");
  fill.style.width = clamped + "%"; // through the CSSOM: the page's CSP allows no inline style attributes
  return el("li", {},
    el("div", { text: label }),
    el("div", { class: "bar " + (state || ""), role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(Math.round(clamped)), "aria-label": label }, fill),
    el("small", { text: detail }));
}

async function plans() {
  const [b, g] = await Promise.all([api("/api/v1/budgets"), api("/api/v1/goals")]);
  const budgets = $("#budgets"), goals = $("#goals");
  budgets.replaceChildren();
  goals.replaceChildren();
  if (b.ok) for (const x of b.body) budgets.append(bar(categoryName(x.category_id), x.percent, x.state, rupiah(x.spent) + " " + t("of") + " " + rupiah(x.limit) + " (" + x.percent + "%)"));
  if (g.ok) for (const x of g.body) goals.append(bar(x.name, x.percent, "", rupiah(x.saved) + " " + t("of") + " " + rupiah(x.target) + " · " + t("by") + " " + x.deadline));
  if (!budgets.children.length) budgets.append(el("li", { text: t("none") }));
  if (!goals.children.length) goals.append(el("li", { text: t("none") }));
}

async function importPage() {}

async function follow(url, done, every = 400) {
  for (;;) {
    const r = await api(url);
    if (r.ok && done(r.body)) return r.body;
    await new Promise((ok) => setTimeout(ok, every));
  }
}

async function insights() {
  const [ins, fc] = await Promise.all([api("/api/v1/insights"), api("/api/v1/forecasts")]);
  const list = $("#insights");
  list.replaceChildren();
  if (ins.ok) for (const i of ins.body) list.append(el("li", { class: "sev-" + i.severity, text: i.period + " · " + i.text }));
  if (!list.children.length) list.append(el("li", { text: t("none") }));
  const balance = fc.ok ? fc.body.filter((f) => f.kind === "balance") : [];
  const last = balance[balance.length - 1];
  $("#forecast").textContent = last ? t("forecast.text", { date: last.target_date, point: rupiah(last.point), lower: rupiah(last.lower), upper: rupiah(last.upper) }) : t("none");
  const now = new Date();
  $("#report-form [name=period]").value ||= now.getFullYear() + "-" + String(now.getMonth() + 1).padStart(2, "0");
}

// ---- live events ------------------------------------------------------------

async function startLive() {
  const controller = new AbortController();
  S.live = controller;
  try {
    const res = await fetch("/api/v1/events", { headers: { authorization: "Bearer " + S.token, accept: "text/event-stream" }, signal: controller.signal });
    if (!res.ok || !res.body) throw new Error("events " + res.status);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trim();
        }
        onEvent(event, data);
      }
    }
  } catch (e) {
    if (controller.signal.aborted) return;
  }
  // Reconnect after a pause (network back, server restarted).
  if (S.live === controller && S.token) setTimeout(() => { S.live = null; startLive(); }, 3000);
}

let refreshTimer = null;
function onEvent(kind, data) {
  if (kind === "ready") { document.body.dataset.live = "on"; return; }
  let payload;
  try { payload = JSON.parse(data); } catch { return; }
  if (kind === "transaction") {
    const list = $("#recent");
    const existing = list.querySelector('[data-id="' + CSS.escape(payload.id) + '"]');
    const item = feedItem(payload, true);
    if (existing) existing.replaceWith(item); else list.prepend(item);
    while (list.children.length > 8) list.lastChild.remove();
    const row = $('#txn-table tbody [data-id="' + CSS.escape(payload.id) + '"]');
    if (row) row.replaceWith(txnRow(payload)); else if (!$("#page-transactions").hidden) $("#txn-table tbody").prepend(txnRow(payload));
    toast(t("live.txn", { what: payload.description, amount: rupiah(payload.amount) }));
    clearTimeout(refreshTimer);
    // The aggregate follows a moment later: refresh the figures then.
    refreshTimer = setTimeout(() => { if (document.body.dataset.page === "overview") overview(); }, 1500);
  } else if (kind === "alert" || kind === "tier") {
    toast(t(kind === "tier" ? "live.tier" : "live.alert", { title: payload.title }));
  }
}

function toast(text) {
  const box = el("div", { class: "toast", text });
  $("#live").append(box);
  setTimeout(() => box.remove(), 6000);
}
function announce(text) { toast(text); }

// ---- forms ------------------------------------------------------------------

function wire() {
  $("#lang").addEventListener("change", (e) => { S.lang = e.target.value; localStorage.setItem("arus.lang", S.lang); translate(); loadCategories().then(route); });
  $("#logout").addEventListener("click", logout);
  window.addEventListener("hashchange", route);

  $("#login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const res = await fetch("/api/v1/auth/login", { method: "POST", headers: { "content-type": "application/json", "accept-language": S.lang }, body: JSON.stringify({ login: f.get("login"), password: f.get("password") }) });
    if (!res.ok) { $("#login-error").textContent = t("login.failed"); return; }
    $("#login-error").textContent = "";
    keep(await res.json());
    location.hash = "#/overview";
    route();
  });

  $("#txn-filter").addEventListener("submit", (e) => { e.preventDefault(); transactions(); });
  $("#txn-more").addEventListener("click", () => transactions(true));
  $("#manual-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const r = await api("/api/v1/transactions", { method: "POST", json: { amount: parseRupiah(f.get("amount")), description: f.get("description") } });
    $("#manual-msg").textContent = r.ok ? t("saved") : ((r.body.error && r.body.error.message) || r.status);
    if (r.ok) e.target.reset();
  });

  $("#budget-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const r = await api("/api/v1/budgets", { method: "POST", json: { category: f.get("category"), amount: parseRupiah(f.get("amount")) } });
    $("#plans-msg").textContent = r.ok ? t("saved") : r.body.error.message;
    if (r.ok) setTimeout(plans, 1500);
  });
  $("#goal-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const r = await api("/api/v1/goals", { method: "POST", json: { name: f.get("name"), target: parseRupiah(f.get("target")), deadline: f.get("deadline") } });
    $("#plans-msg").textContent = r.ok ? t("saved") : r.body.error.message;
    if (r.ok) setTimeout(plans, 1500);
  });

  $("#import-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const status = $("#import-status"), progress = $("#import-progress");
    const body = new FormData();
    body.append("file", $("#import-file").files[0]);
    progress.hidden = false;
    progress.removeAttribute("value");
    status.textContent = t("import.pending");
    document.body.dataset.import = "running";
    const r = await api("/api/v1/imports", { method: "POST", body });
    if (!r.ok) { status.textContent = t("import.failed", { message: (r.body.error && r.body.error.message) || r.status }); progress.hidden = true; document.body.dataset.import = "failed"; return; }
    const job = await follow(r.body.location, (j) => {
      if (j.status === "running") status.textContent = t("import.running", { n: j.counts.rows_read });
      return j.status === "completed" || j.status === "failed";
    });
    progress.value = 100;
    status.textContent = job.status === "completed" ? t("import.completed", job.counts) : t("import.failed", { message: job.error ? job.error.message : "" });
    document.body.dataset.import = job.status;
  });

  $("#receipt-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const status = $("#receipt-status"), out = $("#receipt-result");
    const body = new FormData();
    body.append("file", $("#receipt-file").files[0]);
    out.replaceChildren();
    status.textContent = t("receipt.reading");
    const r = await api("/api/v1/receipts", { method: "POST", body });
    if (!r.ok) { status.textContent = t("receipt.failed", { message: (r.body.error && r.body.error.message) || r.status }); return; }
    const photo = await follow(r.body.location, (p) => p.status !== "pending_ocr", 600);
    showReceipt(photo);
  });

  $("#report-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const format = e.submitter ? e.submitter.value : "csv";
    const period = new FormData(e.target).get("period");
    const r = await api("/api/v1/reports/" + encodeURIComponent(period) + "?format=" + format, { blob: true });
    if (!r.ok) { toast(r.body.error ? r.body.error.message : String(r.status)); return; }
    const a = el("a", { href: URL.createObjectURL(r.body), download: "arus-" + period + "." + format });
    document.body.append(a);
    a.click();
    a.remove();
  });

  const online = () => {
    $("#offline").hidden = navigator.onLine;
    $$("button.write, select.write").forEach((b) => { b.disabled = !navigator.onLine; });
  };
  window.addEventListener("online", online);
  window.addEventListener("offline", online);
  online();
}

function amountOf(field) {
  if (!field) return "";
  const v = field.value;
  return typeof v === "object" && v !== null && "minor" in v ? Math.round(v.minor / Math.pow(10, v.scale || 0)) : v;
}

function showReceipt(photo) {
  const status = $("#receipt-status"), out = $("#receipt-result");
  document.body.dataset.receipt = photo.status;
  if (photo.status === "failed") { status.textContent = t("receipt.failed", { message: photo.error_message || photo.error_code || "" }); return; }
  const f = photo.fields || {};
  if (photo.status === "needs_review") {
    status.textContent = t("receipt.review");
    const form = el("form", { class: "filters" },
      el("label", {}, el("span", { text: t("merchant") }), el("input", { name: "merchant", value: f.merchant ? f.merchant.value : "" })),
      el("label", {}, el("span", { text: t("date") }), el("input", { name: "date", type: "date", value: f.date ? f.date.value : "" })),
      el("label", {}, el("span", { text: t("total") }), el("input", { name: "total", inputmode: "numeric", value: amountOf(f.total) })),
      el("button", { type: "submit", class: "write", text: t("receipt.confirm") }));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const d = new FormData(form), edits = {};
      if (d.get("merchant")) edits.merchant = d.get("merchant");
      if (d.get("date")) edits.date = d.get("date");
      if (!Number.isNaN(parseRupiah(d.get("total")))) edits.total = parseRupiah(d.get("total"));
      const r = await api("/api/v1/receipts/" + encodeURIComponent(photo.id) + "/confirm", { method: "POST", json: edits });
      status.textContent = r.ok ? t("receipt.confirmed") : ((r.body.error && r.body.error.message) || r.status);
      if (r.ok) { form.remove(); document.body.dataset.receipt = "confirmed"; }
    });
    out.replaceChildren(form);
    return;
  }
  status.textContent = t("receipt.parsed");
  const list = el("ul", { class: "feed" });
  for (const x of photo.transactions || []) list.append(el("li", { text: dayOf(x.occurred_at) + " · " + x.description + " · " + rupiah(x.amount) }));
  out.replaceChildren(list);
}

document.addEventListener("DOMContentLoaded", () => {
  translate();
  wire();
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});
  route();
});
