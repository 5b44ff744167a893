// `npm run build`: compiles src/ into dist/ (tsconfig.build.json; the `.ts`
// import specifiers become `.js`), copies the other files the code reads at
// run time (SQL migrations), and removes compiled files whose source is gone.
// Incremental: an unchanged tree takes seconds. A production install ships
// dist/ and no src/: there it has nothing to do.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const dist = join(root, 'dist');
/** files under src/ that are not TypeScript but read at run time */
const ASSETS = [/^store\/migrations\/[^/]+\.sql$/];

if (!existsSync(src)) {
  console.log('build: no src/ here (a production install runs dist/ as shipped); nothing to do');
  process.exit(0);
}

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

let copied = 0;
for (const file of walk(src)) {
  const rel = relative(src, file).split('\\').join('/');
  if (!ASSETS.some((re) => re.test(rel))) continue;
  mkdirSync(dirname(join(dist, rel)), { recursive: true });
  copyFileSync(file, join(dist, rel));
  copied++;
}

// a source deleted or renamed since the last build leaves its output behind: remove it
let removed = 0;
for (const file of walk(dist)) {
  const rel = relative(dist, file).split('\\').join('/');
  if (rel === '.tsbuildinfo') continue;
  const source = rel.endsWith('.js') ? rel.replace(/\.js$/, '.ts') : rel;
  if (!existsSync(join(src, source))) {
    rmSync(file);
    removed++;
  }
}
console.log(`build: dist/ compiled from src/ (${copied} asset(s) copied${removed ? `, ${removed} stale file(s) removed` : ''})`);
