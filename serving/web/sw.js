// arus offline support: the app shell is cached on install; API reads
// (GET /api/v1/…, never the event stream) are fetched from the network
// first and answered from the cache when offline. Writes are not cached:
// the page says it is offline and keeps them disabled.
const SHELL = "arus-shell-v1";
const DATA = "arus-data-v1";
const FILES = ["/", "/assets/app.js", "/assets/app.css", "/assets/icon.svg", "/manifest.webmanifest"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== SHELL && k !== DATA).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== self.location.origin || url.pathname === "/api/v1/events") return;
  if (url.pathname.startsWith("/api/v1/")) {
    // Cached per URL and per person (the Authorization header is not part
    // of the key, so the key carries who asked).
    const who = req.headers.get("x-arus-user") || "anon";
    const key = new Request(url.toString() + (url.search ? "&" : "?") + "__who=" + encodeURIComponent(who));
    event.respondWith(
      fetch(req)
        .then((res) => {
          if (res.ok) {
            const copy = res.clone();
            caches.open(DATA).then((c) => c.put(key, copy));
          }
          return res;
        })
        .catch(() => caches.open(DATA).then((c) => c.match(key)).then((hit) => hit || new Response(JSON.stringify({ error: { code: "offline", message: "offline" } }), { status: 503, headers: { "content-type": "application/json" } }))),
    );
    return;
  }
  event.respondWith(
    fetch(req)
      .then((res) => {
        if (res.ok && FILES.includes(url.pathname)) {
          const copy = res.clone();
          caches.open(SHELL).then((c) => c.put(req, copy));
        }
        return res;
      })
      .catch(() => caches.match(req, { ignoreSearch: true }).then((hit) => hit || caches.match("/"))),
  );
});
