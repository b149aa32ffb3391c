// Unpacks the headless Chromium that the npm package @sparticuz/chromium (pinned in package-lock.json)
// ships brotli-compressed, into the folder given as the first argument (make uses .cache/chromium).
// The report tests drive that binary: no apt, no root and no download beyond the npm registry.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { arch, platform } from "node:process";
import { resolve } from "node:path";

const target = resolve(process.argv[2] ?? ".cache/chromium");
if (platform !== "linux" || arch !== "x64") {
  console.error(
    `unpack-chromium: @sparticuz/chromium ships a Linux x86-64 build only; this is ${platform}-${arch}. ` +
      "Put a Chromium on PATH as `chromium` for the report tests instead.",
  );
  process.exit(1);
}
rmSync(target, { recursive: true, force: true });
mkdirSync(target, { recursive: true });
// The package unpacks into os.tmpdir(), which follows TMPDIR: point it at the project's folder.
process.env.TMPDIR = target;
const { default: chromium } = await import("@sparticuz/chromium");
const binary = await chromium.executablePath();
// The package's own fonts.conf names Lambda's folders; without a font Chromium draws no text.
// FONTCONFIG_FILE=<target>/fonts.conf points it at the Open Sans the package ships, then at the
// system's fonts where there are any (for symbols such as arrows that Open Sans lacks).
writeFileSync(
  resolve(target, "fonts.conf"),
  `<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <dir>${resolve(target, "fonts")}</dir>
  <dir>/usr/share/fonts</dir>
  <cachedir>${resolve(target, "fonts-cache")}</cachedir>
</fontconfig>
`,
);
console.log(`unpacked Chromium into ${binary}`);
