// Bundles the built CLI (dist/cli/main.js, from tsc) with its dependencies into that same one
// file. Node then reads one file instead of some 400 at every start: about 0.1 s less with a
// warm cache, 0.2 s less with a cold one, and 15 MB less memory. The library entry
// (dist/index.js) stays unbundled.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const entry = path.join(root, "dist/cli/main.js");

await build({
  entryPoints: [entry],
  outfile: entry,
  allowOverwrite: true,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // Optional native add-ons of ssh2 (Docker over SSH only), loaded with a fallback when missing.
  external: ["cpu-features", "*.node"],
  // Bundled CommonJS dependencies expect these; an ES module has none of them. (esbuild keeps
  // the entry's #! line first.)
  banner: {
    js: [
      'import { createRequire as __kdCreateRequire } from "node:module";',
      'import { fileURLToPath as __kdFileURLToPath } from "node:url";',
      'import { dirname as __kdDirname } from "node:path";',
      "const require = __kdCreateRequire(import.meta.url);",
      "const __filename = __kdFileURLToPath(import.meta.url);",
      "const __dirname = __kdDirname(__filename);",
    ].join("\n"),
  },
  logLevel: "warning",
});
