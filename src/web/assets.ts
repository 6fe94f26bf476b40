/**
 * The browser app's built assets and the HTML page shell every page uses.
 *
 * `npm run build` bundles src/web/app into dist/web/app.js and dist/web/app.css. This module
 * is compiled to dist/src/web/assets.js, so the assets are at ../../web/ relative to it.
 *
 * Pages are served (the overseer dashboard, `tpslab explorer`: the shell links /app.css and
 * /app.js) or written as one self-contained file (reports: both inlined, so the file opens
 * offline and can be mailed around). Report and compare pages carry their data in
 * `<script id="tpslab-data" type="application/json">`, escaped so that no value can end the
 * script element early.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { TpslabError } from '../errors.js';

export type PageKind = 'dashboard' | 'explorer' | 'report' | 'compare' | 'experiment';

export interface WebAssets {
  js: string;
  css: string;
}

export interface PageShellOptions {
  page: PageKind;
  title: string;
  /** JSON-serialisable data for the app (ReportData or CompareData); omitted when undefined. */
  data?: unknown;
  /** Inline the app (self-contained page); without, link /app.css and /app.js. */
  inline?: WebAssets;
}

/** Absolute paths of the built app.js and app.css. */
export function webAssetPaths(): WebAssets {
  return {
    js: fileURLToPath(new URL('../../web/app.js', import.meta.url)),
    css: fileURLToPath(new URL('../../web/app.css', import.meta.url)),
  };
}

/** Reads the built app; TPSLAB_E_INTERNAL naming the missing file when it was not built. */
export async function webAssets(): Promise<WebAssets> {
  const paths = webAssetPaths();
  const read = async (file: string): Promise<string> => {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'it does not exist' : (err as Error).message;
      throw new TpslabError('TPSLAB_E_INTERNAL', `cannot read the web app at ${file}: ${why}; run \`npm run build\` to build it`, { cause: err });
    }
  };
  const [js, css] = await Promise.all([read(paths.js), read(paths.css)]);
  return { js, css };
}

/**
 * JSON for a `<script type="application/json">` element: `<`, `>` and `&` become \u003c,
 * \u003e and \u0026 (so `</script>` or `<!--` in a value cannot end or confuse the
 * element), and U+2028/U+2029 are escaped too. JSON.parse of the element's text gives the
 * original value back.
 */
export function scriptJson(data: unknown): string {
  const text = JSON.stringify(data);
  if (text === undefined) return 'null';
  return text
    .replaceAll('<', '\\u003c')
    .replaceAll('>', '\\u003e')
    .replaceAll('&', '\\u0026')
    .replaceAll('\u2028', '\\u2028')
    .replaceAll('\u2029', '\\u2029');
}

/** Text for HTML content and double-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;');
}

/** Inline JS cannot contain `</script` (it would end the element) nor open `<!--`. */
function inlineJs(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1').replaceAll('<!--', '\\x3C!--');
}

/** Inline CSS cannot contain `</style`. */
function inlineCss(css: string): string {
  return css.replace(/<\/(style)/gi, '\\3c/$1');
}

/** The HTML page for one of the app's pages. */
export function pageShell(opts: PageShellOptions): string {
  const head = opts.inline ? `<style>\n${inlineCss(opts.inline.css)}\n</style>` : '<link rel="stylesheet" href="/app.css">';
  const script = opts.inline ? `<script>\n${inlineJs(opts.inline.js)}\n</script>` : '<script src="/app.js" defer></script>';
  const data = opts.data === undefined ? '' : `<script id="tpslab-data" type="application/json">${scriptJson(opts.data)}</script>\n`;
  return (
    '<!doctype html>\n' +
    '<html lang="en">\n' +
    '<head>\n' +
    '<meta charset="utf-8">\n' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    '<meta name="generator" content="tpslab">\n' +
    `<title>${escapeHtml(opts.title)}</title>\n` +
    `${head}\n` +
    '</head>\n' +
    '<body>\n' +
    '<noscript>This tpslab page is drawn by JavaScript: enable it to see the charts and tables. ' +
    (opts.data === undefined ? '' : 'The raw data is in the page source (script element tpslab-data). ') +
    '</noscript>\n' +
    `<div id="app" data-page="${opts.page}"></div>\n` +
    data +
    `${script}\n` +
    '</body>\n' +
    '</html>\n'
  );
}
