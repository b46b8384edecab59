// Builds the dashboard into dist/: one bundled ES module, one stylesheet, index.html, and the login page (login.html, login.js).
// Asset URLs are relative so the server can mount dist/ under any path (it uses /ui/).
import { build } from "esbuild";
import { mkdir, copyFile, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));
const out = join(root, "dist");

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  entryPoints: { app: join(root, "src/main.ts"), login: join(root, "src/login.ts"), style: join(root, "src/style.css") },
  outdir: out,
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: true,
  legalComments: "eof",
  logLevel: "warning",
});
await copyFile(join(root, "index.html"), join(out, "index.html"));
await copyFile(join(root, "login.html"), join(out, "login.html"));
console.log(`built ${out}`);
