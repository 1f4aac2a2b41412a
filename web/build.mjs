// Builds the app into dist/: hashed, minified ES modules and CSS under dist/assets/, and
// dist/index.html pointing at them. No inline script or style anywhere (the page's CSP
// allows only 'self'). `node build.mjs` (npm run build) type-checks first with tsc.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, "dist");

if (!process.argv.includes("--no-typecheck")) {
  try {
    execFileSync(join(root, "node_modules", ".bin", "tsc"), ["--noEmit", "-p", root],
      { stdio: "inherit" });
  } catch {
    console.error("web: type errors (above); nothing was built");
    process.exit(1);
  }
}
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

const result = await esbuild.build({
  entryPoints: { main: join(root, "src", "main.tsx") },
  bundle: true,
  splitting: true,
  format: "esm",
  target: ["es2022", "chrome110", "firefox115", "safari16"],
  minify: true,
  sourcemap: "linked",
  outdir: join(dist, "assets"),
  entryNames: "[name]-[hash]",
  chunkNames: "chunk-[hash]",
  assetNames: "[name]-[hash]",
  metafile: true,
  legalComments: "linked",
  logLevel: "warning",
});

const outputs = Object.entries(result.metafile.outputs);
const entry = outputs.find(([, o]) => o.entryPoint === "src/main.tsx");
if (!entry) throw new Error("esbuild produced no main entry");
const url = (file) => "/" + relative(dist, join(root, file)).split("\\").join("/");
const script = url(entry[0]);
const css = entry[1].cssBundle ? url(entry[1].cssBundle) : null;
const html = readFileSync(join(root, "src", "index.html"), "utf8")
  .replace("%CSS%", css ? `<link rel="stylesheet" href="${css}">` : "")
  .replace("%SCRIPT%", `<script type="module" src="${script}"></script>`);
writeFileSync(join(dist, "index.html"), html);
const bytes = outputs.reduce((sum, [, o]) => sum + o.bytes, 0);
console.log(`web: built ${outputs.length} files (${(bytes / 1024).toFixed(0)} KiB) into dist/`);
