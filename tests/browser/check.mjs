// Loads each page in Debian's Chromium (puppeteer-core, executablePath /usr/bin/chromium),
// at 1280 and 390 px wide, in the light and the dark theme: saves a screenshot, runs axe-core
// and measures horizontal overflow. Reads a JSON job on stdin:
//   { "base": "http://127.0.0.1:PORT", "cookie": "labforge_session=…", "shots": "DIR",
//     "chromium": "/usr/bin/chromium", "pages": [["name", "/path", signedIn], …] }
// and prints one JSON line per page and variant:
//   { "page", "width", "theme", "violations": [{id, impact, help, nodes}], "overflow": px }
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import puppeteer from "puppeteer-core";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const job = JSON.parse(readFileSync(0, "utf8"));

const browser = await puppeteer.launch({
  executablePath: job.chromium,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  const host = new URL(job.base).hostname;
  for (const [name, path, signedIn] of job.pages) {
    if (signedIn && job.cookie) {
      const [cname, value] = job.cookie.split("=");
      await page.setCookie({ name: cname, value, domain: host, path: "/" });
    } else {
      await page.deleteCookie({ name: "labforge_session", domain: host, path: "/" });
    }
    for (const width of [1280, 390]) {
      for (const theme of ["light", "dark"]) {
        await page.setViewport({ width, height: 900 });
        await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: theme }]);
        const res = await page.goto(job.base + path, { waitUntil: "load" });
        await page.screenshot({ path: `${job.shots}/${name}-${width}-${theme}.png`, fullPage: true });
        await page.evaluate(axeSource);
        const result = await page.evaluate(async () =>
          await globalThis.axe.run(document, { resultTypes: ["violations"] }));
        // Wider than the window, not counting what scrolls inside its own box (code, tables).
        const overflow = await page.evaluate(() =>
          document.documentElement.scrollWidth - document.documentElement.clientWidth);
        console.log(JSON.stringify({
          page: name, width, theme, status: res.status(), overflow,
          violations: result.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.html),
          })),
        }));
      }
    }
  }
} finally {
  await browser.close();
}
