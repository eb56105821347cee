/** Headless Debian Chromium for report checks: screenshots and the DOM after scripts ran. Offline flags. */
const CHROMIUM = "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--hide-scrollbars",
  "--virtual-time-budget=15000",
];

async function chromium(args: string[]): Promise<string> {
  const profile = await Deno.makeTempDir({ prefix: "ctrlab-chromium-" });
  try {
    const out = await new Deno.Command(CHROMIUM, {
      args: [...FLAGS, `--user-data-dir=${profile}`, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`chromium failed (${out.code}): ${new TextDecoder().decode(out.stderr).slice(-2000)}`);
    }
    return new TextDecoder().decode(out.stdout);
  } finally {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

/** PNG screenshot of a local HTML file at the given viewport. */
export async function screenshot(
  htmlPath: string,
  pngPath: string,
  width = 1280,
  height = 4000,
): Promise<void> {
  await chromium([`--window-size=${width},${height}`, `--screenshot=${pngPath}`, `file://${htmlPath}`]);
}

/** The page's DOM after its scripts ran (plotly draws into it). */
export function renderedDom(htmlPath: string): Promise<string> {
  return chromium(["--dump-dom", `file://${htmlPath}`]);
}
