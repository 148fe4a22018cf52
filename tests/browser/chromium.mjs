// What the browser tests share: the headless Debian chromium they drive and the flags it needs here (software GL,
// no sandbox inside containers, no background traffic).
export const CHROMIUM_FLAGS = [
  "--headless=new", "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
  "--ignore-gpu-blocklist", "--disable-gpu-sandbox", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
];

/** The chromium binary: HIPS_CHROMIUM, else Debian's. */
export const DEFAULT_CHROMIUM = process.env.HIPS_CHROMIUM || "/usr/bin/chromium";
