// Builds the browser app: src/web/app/main.ts → dist/web/app.js (one IIFE, uPlot included) and
// uPlot's CSS + src/web/app/style.css → dist/web/app.css. Nothing is fetched at run time.
// Usage: node scripts/build-web.mjs
import { build } from 'esbuild';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'dist', 'web');
const require = createRequire(import.meta.url);

async function main() {
  await mkdir(outDir, { recursive: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: [path.join(root, 'src/web/app/main.ts')],
    outfile: path.join(outDir, 'app.js'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
  });
  const uplotCss = await readFile(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
  const appCss = await readFile(path.join(root, 'src/web/app/style.css'), 'utf8');
  await writeFile(path.join(outDir, 'app.css'), `${uplotCss.trim()}\n${appCss}`);
  const jsBytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  console.log(`built dist/web/app.js (${(jsBytes / 1024).toFixed(1)} KiB) and dist/web/app.css`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
