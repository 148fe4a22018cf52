// Opens a HiPS's own page (index.html, as hipsgen writes it) in headless Debian chromium, clicks the sky at the
// centre of the view and reports the coadd list the page then shows.
//
// Usage: node click.mjs --page URL [--at FX,FY] [--aladin-path /static/aladin.js] [--width PX] [--height PX]
//          [--timeout-ms N] [--chromium PATH]
//
// --at: where to click, as fractions of the sky view's width and height from its top left (default 0.5,0.5).
//
// Requests for --aladin-path (on any origin) are answered with the npm package's aladin.js, so the page can be
// written with `hipsgen tiles --aladin-url <that path>` and served by hipsserve, which does not serve the script.
// It prints one JSON report on stdout: the clicked position (from the page), the panel's state and its entries
// (`id`, `name`, the `coadd`, `cutout` and `links` hrefs and the `snippet` text), console messages and page errors.
// Exit 0 when the panel was filled (state `done` or `error`), 1 otherwise.
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { CHROMIUM_FLAGS, DEFAULT_CHROMIUM } from "./chromium.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ALADIN_JS = path.join(HERE, "node_modules", "aladin-lite", "dist", "aladin.js");

function parseArgs(argv) {
  const opts = {
    page: null, at: "0.5,0.5", aladinPath: "/static/aladin.js", width: 900, height: 700, timeoutMs: 60000,
    chromium: DEFAULT_CHROMIUM,
  };
  const names = {
    "--page": "page", "--at": "at", "--aladin-path": "aladinPath", "--width": "width", "--height": "height",
    "--timeout-ms": "timeoutMs", "--chromium": "chromium",
  };
  for (let i = 0; i < argv.length; i++) {
    const key = names[argv[i]];
    if (!key || i + 1 >= argv.length) throw new Error(`bad argument ${argv[i]}`);
    opts[key] = argv[++i];
  }
  if (!opts.page) throw new Error("missing --page");
  for (const k of ["width", "height", "timeoutMs"]) opts[k] = Number(opts[k]);
  opts.at = opts.at.split(",").map(Number);
  if (opts.at.length !== 2 || !opts.at.every((f) => f >= 0 && f <= 1)) throw new Error("--at wants FX,FY in [0, 1]");
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const report = { ok: false, console: [], pageErrors: [] };
  const profile = await fsp.mkdtemp(path.join(os.tmpdir(), "hips-chromium-"));
  let browser = null;
  try {
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: opts.chromium, headless: true, args: CHROMIUM_FLAGS,
      viewport: { width: opts.width, height: opts.height }, deviceScaleFactor: 1,
    });
    const page = browser.pages()[0] || (await browser.newPage());
    page.on("console", (m) => report.console.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => report.pageErrors.push(String(e)));
    await page.route((u) => u.pathname === opts.aladinPath, (route) =>
      route.fulfill({ path: ALADIN_JS, contentType: "text/javascript" }));
    await page.goto(opts.page, { waitUntil: "load" });
    await page.waitForFunction(() => window.aladin && window.aladin.view, null, { timeout: opts.timeoutMs });
    const box = await page.locator("#aladin-lite-div").boundingBox();
    // A click, not a drag: press and release at one point.
    await page.mouse.click(box.x + box.width * opts.at[0], box.y + box.height * opts.at[1]);
    await page.waitForFunction(() => {
      const p = document.getElementById("coadds");
      return p && (p.dataset.state === "done" || p.dataset.state === "error");
    }, null, { timeout: opts.timeoutMs });
    Object.assign(report, await page.evaluate(() => {
      const p = document.getElementById("coadds");
      const href = (li, cls) => li.querySelector(`a.${cls}`)?.href || null;
      return {
        state: p.dataset.state, ra: Number(p.dataset.ra), dec: Number(p.dataset.dec), text: p.textContent,
        entries: [...p.querySelectorAll("li")].map((li) => ({
          id: li.dataset.id, name: li.querySelector("strong")?.textContent, coadd: href(li, "coadd"),
          cutout: href(li, "cutout"), links: href(li, "links"), snippet: li.querySelector("code.imviz")?.textContent,
        })),
      };
    }));
    report.ok = true;
  } catch (e) {
    report.error = String(e && e.stack ? e.stack : e);
  } finally {
    if (browser) await browser.close().catch(() => {});
    await fsp.rm(profile, { recursive: true, force: true }).catch(() => {});
  }
  process.stdout.write(JSON.stringify(report) + "\n");
  process.exit(report.ok ? 0 : 1);
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ ok: false, error: String(e && e.stack ? e.stack : e) }) + "\n");
  process.exit(1);
});
