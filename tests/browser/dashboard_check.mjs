// Drives headless Chromium (Debian's /usr/bin/chromium, through playwright-core) against a
// running keyferry dashboard and prints one JSON object with what it saw; the gtest
// DashboardBrowserTest starts the servers and keyferry, runs this, and asserts on the JSON.
//
//   node dashboard_check.mjs <url> <screenshot.png> <sync dir>
//
// Steps, each bounded in time:
//  1. open <url> (with its ?token=), record every request the page makes;
//  2. wait until the phase and a key count > 0 are shown; read the first chart's points,
//     wait 3 s, read them again;
//  3. write <sync dir>/ready (the newest event id the log shows), then wait for
//     <sync dir>/event (written by the test after it journaled an event: that event's
//     message) and for the log to show that message;
//  4. take the screenshot and print the result.
// Exit code 0 when it ran to the end (the JSON says what passed), 2 on a failure to drive
// the browser (the message says what failed).
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

const [url, screenshot, syncDir] = process.argv.slice(2);
if (!url || !screenshot || !syncDir) {
  console.error("usage: node dashboard_check.mjs <url> <screenshot.png> <sync dir>");
  process.exit(2);
}
const executablePath = process.env.KEYFERRY_CHROMIUM || "/usr/bin/chromium";
if (!fs.existsSync(executablePath)) {
  console.error(`no Chromium at ${executablePath}: run scripts/setup.sh (it installs Debian's chromium)`);
  process.exit(2);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what, timeoutMs, probe) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

const result = { url: url.replace(/token=[^&]*/, "token=***"), requests: [], non_local: [], failed: [], console_errors: [] };
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update",
         "--disable-default-apps", "--disable-sync", "--no-first-run", "--disable-extensions"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1360, height: 1100 } });
  page.on("request", (req) => {
    const u = new URL(req.url());
    result.requests.push(u.origin + u.pathname);
    if (u.hostname !== "127.0.0.1") result.non_local.push(req.url());
  });
  page.on("requestfailed", (req) => result.failed.push(req.url().replace(/token=[^&]*/, "token=***")));
  page.on("response", (res) => {
    if (res.status() >= 400) result.failed.push(`${res.status()} ${res.url().replace(/token=[^&]*/, "token=***")}`);
  });
  page.on("console", (msg) => { if (msg.type() === "error") result.console_errors.push(msg.text()); });
  page.on("pageerror", (err) => result.console_errors.push(String(err)));

  await page.goto(url, { waitUntil: "load", timeout: 20000 });
  const text = (sel) => page.$eval(sel, (e) => e.textContent.trim());
  const points = () => page.$eval("#chart-lag-bytes", (c) => Number(c.dataset.points || 0));
  result.phase = await waitFor("a phase on the page", 20000, async () => {
    const p = await text("#phase");
    return p && p !== "…" && p !== "(not started)" ? p : null;
  });
  result.keys_text = await waitFor("a key count > 0", 20000, async () => {
    const k = await text("#keys");
    return k && k !== "0" && k !== "–" ? k : null;
  });
  result.keys = Number(result.keys_text.replace(/[,\s]/g, "").replace(/k$/, "e3").replace(/M$/, "e6"));
  result.points_before = await points();
  await sleep(3000);
  result.points_after = await points();
  // The page's phase again, next to the journal's (read by the test right after).
  result.phase = await text("#phase");
  result.source_nodes = await waitFor("the source's nodes", 15000, async () => {
    const t = await text("#source-nodes");
    return t.includes("redis") ? t : null;
  });
  result.target_nodes = await waitFor("the target's nodes", 15000, async () => {
    const t = await text("#target-nodes");
    return t.includes("valkey") ? t : null;
  });
  result.timeline = await text("#timeline");

  const shownIds = await page.$$eval("#events li[data-id]", (lis) => lis.map((li) => Number(li.dataset.id)));
  result.events_before = shownIds.length;
  result.newest_shown_before = shownIds.length ? Math.max(...shownIds) : 0;
  fs.writeFileSync(path.join(syncDir, "ready"), String(result.newest_shown_before));
  const marker = await waitFor("the test's event (file " + path.join(syncDir, "event") + ")", 30000, async () => {
    const f = path.join(syncDir, "event");
    return fs.existsSync(f) ? fs.readFileSync(f, "utf8").trim() : null;
  });
  result.marker = marker;
  result.event_shown = await waitFor("the new event in the log", 15000, async () => {
    const first = await page.$eval("#events li[data-id]", (li) => ({ id: Number(li.dataset.id), text: li.textContent }));
    return first.text.includes(marker) ? first : null;
  });
  // KEYFERRY_SCREENSHOT_WAIT_MS: more samples on the charts before the picture (for docs).
  await sleep(Number(process.env.KEYFERRY_SCREENSHOT_WAIT_MS || 0));
  await page.screenshot({ path: screenshot, fullPage: true });
  result.screenshot = screenshot;
  result.done = true;
} catch (err) {
  result.error = String(err && err.message ? err.message : err);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
