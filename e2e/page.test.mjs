// Opens fugato serve's page in headless Chromium, generates a piece, and checks that the
// piano-roll is drawn and the audio element holds a playable WAV.
//
//   node e2e/page.test.mjs http://127.0.0.1:PORT/ [screenshot.png]
import { chromium } from "playwright-core";

const [url, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const fail = async (message) => {
  console.error(`e2e: FAILED: ${message}`);
  await browser.close();
  process.exit(1);
};
// The live stream: folk-melody at 400 bpm in D major; after 4 bars the key select moves
// to B-flat major while it plays; at least 8 bars arrive and play, and every bar written
// after the change keeps to the new key.
async function playLive(page, screenshot) {
  const D = [2, 4, 6, 7, 9, 11, 1], BB = [10, 0, 2, 3, 5, 7, 9];
  await page.selectOption("#model", "folk-melody");
  await page.fill("#tempo", "400");
  await page.fill("#seed", "2");
  await page.selectOption("#key", "D:major");
  await page.click("#live-start");
  const data = () => page.$eval("#live", (c) => ({ ...c.dataset }));
  await page.waitForFunction(() => Number(document.getElementById("live").dataset.bars || 0) >= 4, null, { timeout: 30000 });
  const before = Number((await data()).bars);
  await page.selectOption("#key", "Bb:major");
  await page.waitForFunction(() => Number(document.getElementById("live").dataset.played || 0) >= 8, null, { timeout: 60000 });
  const d = await data();
  if (screenshot) await page.screenshot({ path: screenshot.replace(/([^/]*)$/, "live-$1"), fullPage: true });
  await page.click("#live-stop");
  const keys = d.keys.split(" "), pitches = d.pitches.split(";").map((b) => (b ? b.split(",").map(Number) : []));
  const inScale = (bars, scale) => bars.flat().every((p) => scale.includes(p % 12));
  if (!inScale(pitches.slice(0, before), D)) await fail(`bars before the change left D major: ${d.pitches}`);
  const after = pitches.slice(before + 1), afterKeys = keys.slice(before + 1);
  if (after.length < 2 || !afterKeys.every((k) => k === "Bb")) await fail(`the key change did not hold: keys ${d.keys}`);
  if (!inScale(after, BB)) await fail(`bars after the change left B-flat major: ${d.pitches}`);
  const notes = pitches.flat().length;
  if (notes === 0) await fail("the live stream played no notes");
  return `${d.bars} bars arrived, ${d.played} played, ${notes} notes; keys ${d.keys}`;
}

try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(url);
  await page.waitForFunction(() => document.querySelectorAll("#model option").length > 0, null, { timeout: 10000 });
  await page.fill("#seed", "3");
  await page.fill("#bars", "4");
  await page.selectOption("#key", "G:major");
  await page.click("#generate");
  await page.waitForFunction(() => Number(document.getElementById("roll").dataset.notes || 0) > 0, null, { timeout: 60000 });
  const notes = await page.$eval("#roll", (c) => Number(c.dataset.notes));
  // Some pixels of the canvas are not white: notes were drawn.
  const inked = await page.$eval("#roll", (c) => {
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200) n++;
    return n;
  });
  await page.waitForFunction(() => {
    const a = document.getElementById("audio");
    return a.src.startsWith("blob:") && a.readyState >= 1 && a.duration > 0;
  }, null, { timeout: 60000 });
  const duration = await page.$eval("#audio", (a) => a.duration);
  const canPlay = await page.$eval("#audio", (a) => a.canPlayType("audio/wav"));
  const midiLink = await page.$eval("#download-midi", (a) => !a.hidden && a.href.startsWith("blob:"));
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  const foreign = requests.filter((r) => !r.startsWith(url) && !r.startsWith("blob:") && !r.startsWith("data:"));
  if (errors.length) await fail(`page errors: ${errors.join("; ")}`);
  if (foreign.length) await fail(`requests outside the server: ${foreign.join(", ")}`);
  if (!(notes > 0 && inked > 100)) await fail(`piano-roll not drawn (notes ${notes}, inked pixels ${inked})`);
  if (!(duration > 1)) await fail(`audio not playable (duration ${duration})`);
  if (canPlay === "") await fail("the browser cannot play audio/wav");
  if (!midiLink) await fail("no MIDI download link");
  await page.selectOption("#model", "styles-melody");
  const styles = await page.$$eval("#style option", (os) => os.map((o) => o.value));
  if (!styles.includes("jig")) await fail(`styles-melody offers no jig style: ${styles.join(", ")}`);
  const live = await playLive(page, screenshot);
  // Infilling: a folk tune of 4 bars, then its bars 2-3 rewritten.
  await page.fill("#bars", "4");
  await page.click("#generate");
  await page.waitForFunction(() => /seed \d+: \d+ notes/.test(document.getElementById("status").textContent), null, { timeout: 60000 });
  await page.fill("#infill-bars", "2-3");
  await page.click("#infill");
  await page.waitForFunction(() => /bars 2-3 rewritten/.test(document.getElementById("status").textContent)
    || document.getElementById("status").className === "error", null, { timeout: 60000 });
  const infilled = await page.$eval("#status", (s) => s.textContent);
  if (!/bars 2-3 rewritten: [1-9]/.test(infilled)) await fail(`infilling failed: ${infilled}`);
  if (errors.length) await fail(`page errors: ${errors.join("; ")}`);
  console.log(`e2e: ok: ${notes} notes drawn (${inked} inked pixels), audio ${duration.toFixed(1)} s, MIDI download ready`);
  console.log(`e2e: ok: live: ${live}`);
  console.log(`e2e: ok: infill: ${infilled}`);
} catch (e) {
  await fail(e.message);
}
await browser.close();
