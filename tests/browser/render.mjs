// Renders one HiPS in Aladin Lite inside headless Debian chromium and saves a screenshot.
//
// Usage: node render.mjs --hips URL --ra DEG --dec DEG --fov DEG --width PX --height PX --out FILE.png
//          [--projection SIN|TAN|...] [--img-format fits|png|jpeg|webp] [--with-credentials]
//          [--page-listen HOST:PORT] [--page-host NAME] [--mount DIR] [--cookie NAME=VALUE@URL]
//          [--http-credentials USER:PASS] [--timeout-ms N] [--min-wait-ms N] [--quiet-ms N]
//          [--chromium PATH]
//
// The page (page.html) and aladin.js are served by a small static HTTP server started here
// (default 127.0.0.1, a free port). --mount DIR also serves DIR under /hips/ on that same origin,
// so `--mount DIR --hips /hips` renders a local HiPS directory without any CORS. An absolute --hips
// URL on another port is a cross-origin HiPS: its server must answer with CORS headers.
// The script waits until Aladin Lite has no HiPS request pending for --quiet-ms (and at least
// --min-wait-ms since the page loaded) and a tile was answered (or the HiPS properties were refused), then
// until two screenshots 300 ms apart are identical, and saves the last one. It prints one JSON report on
// stdout (requests with status, console errors, timing) and exits 0 if a screenshot was written,
// 2 if the wait timed out (a screenshot is still written), 1 on any other failure.
import http from "node:http";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { CHROMIUM_FLAGS, DEFAULT_CHROMIUM } from "./chromium.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ALADIN_JS = path.join(HERE, "node_modules", "aladin-lite", "dist", "aladin.js");
const PAGE_HTML = path.join(HERE, "page.html");


function parseArgs(argv) {
  const opts = {
    projection: "SIN", imgFormat: null, withCredentials: false, pageListen: "127.0.0.1:0", pageHost: null,
    mount: null, cookies: [], httpCredentials: null, timeoutMs: 25000, minWaitMs: 1500, quietMs: 1000,
    chromium: DEFAULT_CHROMIUM,
  };
  const flags = { "--with-credentials": "withCredentials" };
  const values = {
    "--hips": "hipsUrl", "--ra": "ra", "--dec": "dec", "--fov": "fov", "--width": "width", "--height": "height",
    "--out": "out", "--projection": "projection", "--img-format": "imgFormat", "--page-listen": "pageListen",
    "--page-host": "pageHost", "--mount": "mount", "--http-credentials": "httpCredentials",
    "--timeout-ms": "timeoutMs", "--min-wait-ms": "minWaitMs", "--quiet-ms": "quietMs", "--chromium": "chromium",
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a in flags) opts[flags[a]] = true;
    else if (a === "--cookie") opts.cookies.push(argv[++i]);
    else if (a in values) {
      if (i + 1 >= argv.length) throw new Error(`missing value after ${a}`);
      opts[values[a]] = argv[++i];
    } else throw new Error(`unknown argument ${a}`);
  }
  for (const k of ["hipsUrl", "ra", "dec", "fov", "width", "height", "out"]) {
    if (opts[k] === undefined) throw new Error(`missing required --${k}`);
  }
  for (const k of ["ra", "dec", "fov", "width", "height", "timeoutMs", "minWaitMs", "quietMs"]) {
    const v = Number(opts[k]);
    if (!Number.isFinite(v)) throw new Error(`--${k} is not a number: ${opts[k]}`);
    opts[k] = v;
  }
  return opts;
}

const MIME = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".png": "image/png", ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg", ".webp": "image/webp", ".fits": "application/fits", "": "text/plain; charset=utf-8",
};

// Static server for the page, aladin.js and (optionally) one mounted HiPS directory under /hips/.
function startPageServer(listen, mountDir) {
  const [host, portStr] = listen.split(/:(?=[^:]*$)/);
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, "http://x");
    let file = null;
    if (url.pathname === "/" || url.pathname === "/page.html") file = PAGE_HTML;
    else if (url.pathname === "/aladin-lite/aladin.js") file = ALADIN_JS;
    else if (mountDir && url.pathname.startsWith("/hips/")) {
      const rel = path.normalize(decodeURIComponent(url.pathname.slice("/hips/".length)));
      if (!rel.startsWith("..") && !path.isAbsolute(rel)) file = path.join(mountDir, rel);
    }
    try {
      if (!file) throw new Error("not found");
      const body = await fsp.readFile(file);
      res.writeHead(200, { "Content-Type": MIME[path.extname(file).toLowerCase()] || "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("not found\n");
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(portStr), host, () => resolve(server));
  });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const report = {
    ok: false, timedOut: false, requests: [], otherFailed: [], console: [], pageErrors: [], out: opts.out,
  };
  const server = await startPageServer(opts.pageListen, opts.mount);
  const { port } = server.address();
  const host = opts.pageHost || opts.pageListen.split(/:(?=[^:]*$)/)[0];
  const origin = `http://${host}:${port}`;
  report.pageOrigin = origin;
  const hipsUrl = new URL(opts.hipsUrl, origin + "/").href.replace(/\/$/, "");
  report.hipsUrl = hipsUrl;
  const profile = await fsp.mkdtemp(path.join(os.tmpdir(), "hips-chromium-"));
  let browser = null;
  let code = 1;
  try {
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: opts.chromium, headless: true, args: CHROMIUM_FLAGS,
      viewport: { width: opts.width, height: opts.height }, deviceScaleFactor: 1,
      httpCredentials: opts.httpCredentials
        ? { username: opts.httpCredentials.split(":")[0], password: opts.httpCredentials.split(":").slice(1).join(":") }
        : undefined,
    });
    for (const c of opts.cookies) {
      const m = /^([^=]+)=([^@]*)@(.+)$/.exec(c);
      if (!m) throw new Error(`--cookie wants NAME=VALUE@URL, got ${c}`);
      await browser.addCookies([{ name: m[1], value: m[2], url: m[3] }]);
    }
    const page = browser.pages()[0] || (await browser.newPage());
    const pending = new Set();
    const starts = new Map();
    let lastActivity = Date.now();
    let statusesPending = 0;
    const isHips = (u) => u.startsWith(hipsUrl);
    const TILE = /\/Norder\d+\/Dir\d+\/Npix\d+\.[a-z]+$/;
    page.on("request", (r) => {
      if (!isHips(r.url())) return;
      pending.add(r);
      starts.set(r, Date.now() - t0);
      lastActivity = Date.now();
    });
    const done = async (r, failure) => {
      if (!pending.delete(r)) return;
      lastActivity = Date.now();
      const rec = {
        url: r.url(), status: null, failure: failure ? r.failure()?.errorText || "failed" : null,
        startMs: starts.get(r), ms: Date.now() - t0,
      };
      report.requests.push(rec);
      if (!failure) {
        statusesPending++;
        const resp = await r.response().catch(() => null);
        rec.status = resp ? resp.status() : null;
        statusesPending--;
      }
    };
    page.on("requestfinished", (r) => done(r, false));
    page.on("requestfailed", (r) => {
      if (!isHips(r.url())) report.otherFailed.push(`${r.url()}: ${r.failure()?.errorText || "failed"}`);
      done(r, true);
    });
    page.on("console", (m) => report.console.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => report.pageErrors.push(String(e)));

    const cfg = {
      hipsUrl, ra: opts.ra, dec: opts.dec, fov: opts.fov, width: opts.width, height: opts.height,
      projection: opts.projection, imgFormat: opts.imgFormat, withCredentials: opts.withCredentials,
    };
    await page.goto(`${origin}/page.html#${encodeURIComponent(JSON.stringify(cfg))}`, { waitUntil: "load" });
    const loaded = Date.now();
    // Done when: Aladin Lite is up, the network has been quiet for quietMs, and either a tile was answered (any
    // status) or the HiPS properties were refused (then nothing more will come). Aladin Lite pauses between
    // Allsky/MOC and the tiles while it decodes, so quiet alone is not enough on a loaded machine.
    const networkSettled = (now, state) => {
      if (!(state && state.ready) || pending.size > 0 || statusesPending > 0) return false;
      if (now - lastActivity < opts.quietMs || now - loaded < opts.minWaitMs) return false;
      const ok = (q) => q.failure === null && q.status !== null && q.status < 400;
      const tileAnswered = report.requests.some((q) => TILE.test(q.url));
      const refused = report.requests.some((q) => q.url.endsWith("/properties") && !ok(q));
      return tileAnswered || refused;
    };
    const view = page.locator("#aladin");
    let previous = null;
    let shot = null;
    for (;;) {
      const now = Date.now();
      const state = await page.evaluate(() => window.__hipsTest || null);
      if (state && state.errors.length) report.pageErrors.push(...state.errors.splice(0));
      if (now - t0 > opts.timeoutMs) {
        report.timedOut = true;
        break;
      }
      if (networkSettled(now, state)) {
        // Then wait for the picture to stop changing (tiles decode, upload and blend in over several frames).
        shot = await view.screenshot();
        if (previous !== null && shot.equals(previous) && pending.size === 0) break;
        previous = shot;
        await new Promise((r) => setTimeout(r, 300));
        continue;
      }
      previous = null;
      await new Promise((r) => setTimeout(r, 100));
    }
    report.pendingAtEnd = [...pending].map((r) => r.url());
    await fsp.mkdir(path.dirname(path.resolve(opts.out)), { recursive: true });
    if (report.timedOut || shot === null) shot = await view.screenshot();
    await fsp.writeFile(opts.out, shot);
    report.ok = true;
    code = report.timedOut ? 2 : 0;
  } catch (e) {
    report.error = String(e && e.stack ? e.stack : e);
  } finally {
    if (browser) await browser.close().catch(() => {});
    server.close();
    await fsp.rm(profile, { recursive: true, force: true }).catch(() => {});
  }
  report.elapsedMs = Date.now() - t0;
  process.stdout.write(JSON.stringify(report) + "\n");
  process.exit(code);
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ ok: false, error: String(e && e.stack ? e.stack : e) }) + "\n");
  process.exit(1);
});
