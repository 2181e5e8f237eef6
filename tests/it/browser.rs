//! The web dashboard in a real browser: Debian's headless Chromium driven
//! over the DevTools protocol (a small client here: a WebSocket, JSON
//! commands, a session on one page). A person logs in, sees the overview
//! with its charts, uploads a bank statement and watches the import
//! finish, confirms a category, and sees a transaction made elsewhere
//! appear live; the language switch, a phone-sized screen, labels on every
//! control and opening offline are checked too. Screenshots go to
//! `target/test-artifacts/browser/`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;
use tokio_tungstenite::tungstenite::Message as Ws;

use crate::serving::{book, first_admin, person, Api};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A headless Chromium and one page in it.
struct Browser {
    _process: tokio::process::Child,
    _profile: tempfile::TempDir,
    socket: Socket,
    session: String,
    next: AtomicU64,
    shots: PathBuf,
}

/// The browser binary itself: Debian's /usr/bin entries are shell scripts
/// that run it as their child, so killing them would leave it running.
fn chromium() -> &'static str {
    ["/usr/lib/chromium/chromium-headless-shell", "/usr/lib/chromium/chromium", "/usr/bin/chromium-headless-shell", "/usr/bin/chromium"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("Chromium: deploy/system-packages.sh installs chromium-headless-shell")
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(pid) = self._process.id() {
            // SAFETY: kill(2) with a negative pid signals that process group; no memory is touched.
            unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
        }
    }
}

impl Browser {
    async fn launch(shots: &str) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut process = tokio::process::Command::new(chromium())
            .args(["--headless", "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", "--no-sandbox", "--disable-gpu", "--no-first-run", "--window-size=1280,900", "--lang=id-ID"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            // Its own process group, which Drop ends with every renderer in it.
            .process_group(0)
            .spawn()
            .unwrap();
        let mut lines = tokio::io::BufReader::new(process.stderr.take().unwrap()).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    return url.trim().to_owned();
                }
            }
            panic!("Chromium ended without a DevTools address")
        })
        .await
        .expect("Chromium starts within 30 s");
        // Keep draining its log so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let (socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap();
        let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts/browser").join(shots);
        std::fs::create_dir_all(&shots).unwrap();
        let mut browser = Browser { _process: process, _profile: profile, socket, session: String::new(), next: AtomicU64::new(1), shots };
        let target = browser.call(None, "Target.createTarget", json!({"url": "about:blank"})).await;
        let attached = browser.call(None, "Target.attachToTarget", json!({"targetId": target["targetId"], "flatten": true})).await;
        browser.session = attached["sessionId"].as_str().unwrap().to_owned();
        for domain in ["Page.enable", "Runtime.enable", "Network.enable"] {
            browser.page(domain, json!({})).await;
        }
        browser
    }

    /// Sends a command (to the page's session, or to the browser) and waits for its answer.
    async fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            message["sessionId"] = s.into();
        }
        self.socket.send(Ws::Text(message.to_string().into())).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = tokio::time::timeout(left, self.socket.next()).await.unwrap_or_else(|_| panic!("{method}: no answer in 60 s"));
            let Some(Ok(Ws::Text(text))) = frame else { continue };
            let answer: Value = serde_json::from_str(&text).unwrap();
            if answer["id"].as_u64() == Some(id) {
                assert!(answer.get("error").is_none(), "{method}: {answer}");
                return answer["result"].clone();
            }
        }
    }

    async fn page(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.call(Some(&session), method, params).await
    }

    /// The value of a JavaScript expression in the page (promises awaited).
    async fn eval(&mut self, expression: &str) -> Value {
        let r = self.page("Runtime.evaluate", json!({"expression": expression, "awaitPromise": true, "returnByValue": true})).await;
        assert!(r.get("exceptionDetails").is_none(), "`{expression}` threw: {}", r["exceptionDetails"]);
        r["result"]["value"].clone()
    }

    /// Waits until `condition` (JavaScript) is true; panics with `what` after `timeout`.
    async fn until(&mut self, condition: &str, what: &str, timeout: Duration) {
        let started = Instant::now();
        loop {
            // A page still loading may have no body yet: not true yet.
            if self.eval(&format!("(() => {{ try {{ return !!({condition}); }} catch (e) {{ return false; }} }})()")).await == Value::Bool(true) {
                return;
            }
            if started.elapsed() > timeout {
                self.shot("failure").await;
                let body = self.eval("document.body.innerText.slice(0, 2000)").await;
                panic!("{what}: not within {timeout:?}; the page says:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    async fn go(&mut self, url: &str) {
        self.page("Page.navigate", json!({"url": url})).await;
    }

    /// Saves a PNG of the page as `{name}.png`.
    async fn shot(&mut self, name: &str) -> PathBuf {
        let r = self.page("Page.captureScreenshot", json!({"format": "png", "captureBeyondViewport": true})).await;
        let bytes = base64::engine::general_purpose::STANDARD.decode(r["data"].as_str().unwrap()).unwrap();
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, &bytes).unwrap();
        assert!(bytes.len() > 5_000, "a screenshot with something on it");
        path
    }

    /// Puts `file` into the file input `selector`.
    async fn choose_file(&mut self, selector: &str, file: &Path) {
        let r = self.page("Runtime.evaluate", json!({"expression": format!("document.querySelector({selector:?})")})).await;
        let object = r["result"]["objectId"].clone();
        self.page("DOM.setFileInputFiles", json!({"files": [file.display().to_string()], "objectId": object})).await;
    }
}


#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_uses_the_dashboard_in_chromium_with_broker() {
    let api = Api::start_with("browser", &["enrich", "accounts", "imports", "daily-totals", "monthly-totals", "audit", "dlq"], |_| {}).await;
    let admin = first_admin(&api).await;
    let (_, sari) = person(&api, &admin, "sari@example.id", "user").await;
    for (amount, what, category, days_ago) in [
        (2_500_000, "Jual bakso", "sales", 40),
        (-800_000, "Bahan baku", "raw_materials", 38),
        (3_000_000, "Jual bakso minggu ini", "sales", 1),
        (-120_000, "Beli daging sapi", "raw_materials", 1),
        (-45_000, "Makan siang", "food_drink", 0),
    ] {
        book(&api, &sari, amount, what, category, days_ago).await;
    }
    api.eventually("/api/v1/dashboard/cashflow?months=3", &sari, |m| m.as_array().is_some_and(|a| a.iter().map(|x| x["transactions"].as_i64().unwrap_or(0)).sum::<i64>() == 5)).await;
    // The summary reads daily_totals, kept by a job of its own: the cash flow
    // (monthly_totals) being complete does not say it is.
    crate::common::wait_committed(&api.env.config, "daily-totals", &arus_schemas::tables::DAILY_TOTALS, &[arus_schemas::topics::TXN], 5).await;
    let (_, summary) = api.get("/api/v1/dashboard/summary", &sari).await;

    let mut b = Browser::launch("dashboard").await;
    b.go(&api.url("/")).await;
    b.until("document.body.dataset.page === 'login'", "the login page", Duration::from_secs(40)).await;
    assert_eq!(b.eval("document.documentElement.lang").await, "id", "Bahasa Indonesia first");
    assert_eq!(b.eval("document.querySelector('#login-form button').textContent").await, "Masuk");
    // A wrong password says so and stays.
    b.eval("document.querySelector('#login-name').value = 'sari@example.id'; document.querySelector('#login-password').value = 'salah'; document.querySelector('#login-form').requestSubmit()").await;
    b.until("document.querySelector('#login-error').textContent.length > 0", "the login error", Duration::from_secs(40)).await;
    b.eval("document.querySelector('#login-password').value = 'kata-sandi-rahasia'; document.querySelector('#login-form').requestSubmit()").await;

    // The overview: the month's figures and both charts.
    b.until("document.body.dataset.ready === 'overview'", "the overview", Duration::from_secs(30)).await;
    b.until("document.querySelectorAll('#chart-cashflow svg rect').length > 4 && document.querySelector('#chart-categories svg')", "the charts", Duration::from_secs(30)).await;
    let income = b.eval("document.querySelector('[data-stat=in] .value').textContent").await;
    let want = format!("Rp {}", format_id(summary["current"]["income"].as_i64().unwrap()));
    assert_eq!(income.as_str(), Some(want.as_str()), "the income card shows the API's figure");
    assert!(b.eval("document.querySelector('#chart-cashflow svg desc').textContent").await.as_str().unwrap().contains("pemasukan"));
    assert_eq!(b.eval("document.querySelectorAll('#recent li').length").await, 5);
    b.shot("01-overview").await;

    // Live: a transaction recorded elsewhere (another device, WhatsApp) shows up without a reload.
    b.until("document.body.dataset.live === 'on'", "the event stream", Duration::from_secs(40)).await;
    let live = book(&api, &sari, -27_000, "Es teh dari WhatsApp", "food_drink", 0).await;
    b.until(&format!("document.querySelector('#recent li[data-id=\"{live}\"]')"), "the new transaction in the list", Duration::from_secs(30)).await;
    assert!(b.eval("document.querySelector('#live').textContent").await.as_str().unwrap().contains("Es teh dari WhatsApp"));
    b.shot("02-live-transaction").await;

    // Import a statement and watch it finish.
    b.eval("location.hash = '#/import'").await;
    b.until("document.body.dataset.ready === 'import'", "the import page", Duration::from_secs(30)).await;
    let statement = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ingest/fixtures/statements/bca-personal.csv");
    b.choose_file("#import-file", &statement).await;
    b.eval("document.querySelector('#import-form').requestSubmit()").await;
    b.until("document.body.dataset.import === 'completed'", "the import to finish", Duration::from_secs(90)).await;
    let status = b.eval("document.querySelector('#import-status').textContent").await;
    assert_eq!(status.as_str(), Some("Impor selesai: 4 diimpor, 0 duplikat, 1 ditolak."), "{status}");
    assert_eq!(b.eval("document.querySelector('#import-progress').value").await, 100);
    b.shot("03-import-finished").await;

    // Confirm a category on the transactions page.
    b.eval("location.hash = '#/transactions'").await;
    b.until("document.body.dataset.ready === 'transactions' && document.querySelectorAll('#txn-table tbody tr').length >= 10", "the transactions", Duration::from_secs(60)).await;
    // An imported row the model categorised: the person picks another category and confirms.
    let picked = b
        .eval(
            "(() => { const row = [...document.querySelectorAll('#txn-table tbody tr')].find(r => !r.querySelector('.badge').className.includes('user_confirmed')); \
               const s = row.querySelector('select'); s.value = s.value === 'groceries' ? 'other' : 'groceries'; \
               row.querySelector('button').click(); return [row.dataset.id, s.value]; })()",
        )
        .await;
    let (id, category) = (picked[0].as_str().unwrap().to_owned(), picked[1].as_str().unwrap().to_owned());
    b.until(&format!("document.querySelector('#txn-table tr[data-id=\"{id}\"] .badge').className.includes('user_confirmed')"), "the confirmed badge", Duration::from_secs(30)).await;
    let confirmed = api.eventually(&format!("/api/v1/transactions/{id}"), &sari, |t| t["status"] == "user_confirmed" && t["category_id"] == category.as_str()).await;
    assert_eq!(confirmed["category_source"], "user");
    b.shot("04-category-confirmed").await;

    // Every control has a name a screen reader can say; the page works by keyboard.
    let unnamed = b
        .eval(
            "[...document.querySelectorAll('input, select, button, a[href]')].filter(e => e.offsetParent !== null).filter(e => { \
               const label = e.labels && e.labels.length ? e.labels[0].textContent.trim() : ''; \
               return !(label || e.getAttribute('aria-label') || e.textContent.trim()); }).map(e => e.outerHTML.slice(0, 80))",
        )
        .await;
    assert_eq!(unnamed, json!([]), "controls without an accessible name");
    let mut reached = std::collections::BTreeSet::new();
    for _ in 0..80 {
        b.page("Input.dispatchKeyEvent", json!({"type": "keyDown", "key": "Tab", "code": "Tab", "windowsVirtualKeyCode": 9})).await;
        b.page("Input.dispatchKeyEvent", json!({"type": "keyUp", "key": "Tab", "code": "Tab", "windowsVirtualKeyCode": 9})).await;
        let at = b.eval("document.activeElement.dataset.page || document.activeElement.className || document.activeElement.id").await;
        reached.insert(at.as_str().unwrap_or("").to_owned());
    }
    for wanted in ["skip", "overview", "transactions", "plans", "import", "insights", "lang"] {
        assert!(reached.contains(wanted), "{wanted} is not reached by Tab: {reached:?}");
    }

    // English on request.
    b.eval("const l = document.querySelector('#lang'); l.value = 'en'; l.dispatchEvent(new Event('change'))").await;
    b.until("document.querySelector('nav a[data-page=overview]').textContent === 'Overview'", "English", Duration::from_secs(30)).await;
    b.eval("location.hash = '#/overview'").await;
    b.until("document.body.dataset.ready === 'overview' && document.querySelector('#chart-cashflow svg title').textContent === 'Cash flow by month'", "the overview in English", Duration::from_secs(40)).await;

    // A phone.
    b.page("Emulation.setDeviceMetricsOverride", json!({"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true})).await;
    b.eval("location.hash = '#/plans'").await;
    b.until("document.body.dataset.ready === 'plans'", "the plans page", Duration::from_secs(30)).await;
    assert_eq!(b.eval("document.documentElement.scrollWidth <= window.innerWidth + 1").await, true, "no sideways scrolling on a phone");
    b.shot("05-phone-plans").await;
    b.page("Emulation.clearDeviceMetricsOverride", json!({})).await;

    // Offline: the service worker has kept the shell and the last answers.
    b.eval("navigator.serviceWorker.ready.then(() => true)").await;
    if b.eval("navigator.serviceWorker.controller === null").await == Value::Bool(true) {
        b.eval("location.reload()").await;
        b.until("document.body.dataset.ready === 'plans' && navigator.serviceWorker.controller !== null", "the service worker in control", Duration::from_secs(30)).await;
    }
    b.eval("location.hash = '#/overview'").await;
    b.until("document.body.dataset.ready === 'overview'", "the overview again", Duration::from_secs(40)).await;
    // The server goes away and the browser is told it is offline.
    api.shutdown.cancel();
    // Gone for good: the listener closed (open connections drain with it).
    let addr = api.base.trim_start_matches("http://").to_owned();
    let started = Instant::now();
    while tokio::net::TcpStream::connect(&addr).await.is_ok() {
        assert!(started.elapsed() < Duration::from_secs(20), "the server still accepts connections");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    b.page("Network.emulateNetworkConditions", json!({"offline": true, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})).await;
    // The old page shows the offline banner too: unmark it, so only the reloaded page can pass the wait.
    b.eval("document.body.dataset.ready = 'reloading'; location.reload()").await;
    b.until("document.body.dataset.ready === 'overview' && !document.querySelector('#offline').hidden", "the overview offline", Duration::from_secs(30)).await;
    let recent = b.eval("document.querySelectorAll('#recent li').length").await.as_i64().unwrap();
    if recent < 5 {
        // What the page and its caches held, to tell a cache miss from a lost login or a late render.
        let state = b.eval("caches.open('arus-data-v1').then(c => c.keys()).then(k => JSON.stringify({recent: document.querySelector('#recent').innerText, error: document.body.dataset.error, user: !!localStorage.getItem('arus.user'), hash: location.hash, cached: k.map(r => r.url)}))").await;
        panic!("the last data, from the cache: {recent} items; {state}");
    }
    b.shot("06-offline").await;
}

/// `1234567` as `1.234.567`.
fn format_id(n: i64) -> String {
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('.');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}
