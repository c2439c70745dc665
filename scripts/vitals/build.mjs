// Bundles web-vitals (pinned in package-lock.json) and writes it into tracker/static/tracker.js
// between its `web-vitals:begin` and `web-vitals:end` lines. `make vitals-bundle` runs it;
// `--check` only compares (exit 1 when the committed bundle differs from a fresh build).
import { build } from 'esbuild';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const snippet = join(here, '..', '..', 'tracker', 'static', 'tracker.js');
const pkg = JSON.parse(readFileSync(join(here, 'node_modules', 'web-vitals', 'package.json'), 'utf8'));
const BEGIN = '// web-vitals:begin';
const END = '// web-vitals:end';

const result = await build({
  entryPoints: [join(here, 'entry.js')],
  bundle: true,
  minify: true,
  format: 'iife',
  globalName: 'webVitals', // a `var` inside tracker.js's own function: no global
  target: 'es2017',
  legalComments: 'none', // the banner below names the licence; the text ships beside tracker.js
  write: false,
  charset: 'utf8',
});
const code = result.outputFiles[0].text.trim();
const banner =
  `  /*! web-vitals ${pkg.version} (c) Google LLC, ${pkg.license}: ` +
  'tracker/static/web-vitals.LICENSE.txt; bundled by `make vitals-bundle` */';
const block = `${BEGIN}\n${banner}\n  ${code}\n  ${END}`;

const text = readFileSync(snippet, 'utf8');
const start = text.indexOf(BEGIN);
const stop = text.indexOf(END);
if (start < 0 || stop < start) {
  console.error(`tracker.js lacks the ${BEGIN} / ${END} lines`);
  process.exit(2);
}
const updated = text.slice(0, start) + block + text.slice(stop + END.length);
if (process.argv.includes('--check')) {
  if (updated !== text) {
    console.error('tracker.js holds a different web-vitals bundle: run `make vitals-bundle`');
    process.exit(1);
  }
  console.log(`web-vitals ${pkg.version}: the committed bundle matches a fresh build`);
} else {
  writeFileSync(snippet, updated);
  console.log(`web-vitals ${pkg.version} bundled into tracker/static/tracker.js`);
}
