// The store (src/store/) is the only place SQL lives: routes, use cases and
// jobs call its named functions. Checked on the syntax tree of every module
// outside src/store (comments are not code): no call of a statement method
// (prepare, exec, pragma) on a database handle, and no string that reads as
// an SQL statement.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';

const ROOT = join(import.meta.dirname, '..', '..');
const STATEMENT_METHODS = new Set(['prepare', 'exec', 'pragma']);
const SQL = /\b(?:SELECT\s[\s\S]*\bFROM\b|INSERT\s+(?:OR\s+\w+\s+)?INTO\b|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b|(?:CREATE|DROP|ALTER)\s+(?:TABLE|INDEX|VIEW|TRIGGER)\b|PRAGMA\s+\w)/;
/** a receiver that names a database handle: db, ctx.db, this.db, store.db, this.c.db, ... */
const DB_HANDLE = /(?:^|\.)(?:db|database|sqlite)$/i;

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

/** `file: line: text` for each SQL use in a module's source */
export function sqlUses(fileName: string, source: string): string[] {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const at = (n: ts.Node, what: string) => found.push(`${fileName}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1}: ${what}`);
  const visit = (n: ts.Node): void => {
    if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && STATEMENT_METHODS.has(n.expression.name.text)
      && DB_HANDLE.test(n.expression.expression.getText(sf))) {
      at(n, n.expression.getText(sf));
    } else if ((ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isTemplateHead(n)) && SQL.test(n.text)) {
      at(n, JSON.stringify(n.text.slice(0, 80)));
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

describe('SQL lives in src/store only', () => {
  it('no module outside src/store runs or spells an SQL statement', () => {
    const store = join(ROOT, 'src', 'store') + '/';
    const uses = walk(join(ROOT, 'src'))
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.startsWith(store))
      .flatMap((f) => sqlUses(relative(ROOT, f), readFileSync(f, 'utf8')));
    assert.deepEqual(uses, [], 'move the query into the matching src/store repository as a named function');
  });

  it('the check finds what it looks for, and not regular expressions or comments', () => {
    const bad = [
      "const r = db.prepare('SELECT options FROM models WHERE id = ?').get(id);",
      "ctx.db.prepare(sql).all();",
      "store.db.exec(script);",
      "this.c.db.pragma('journal_mode = WAL');",
      "const q = `UPDATE devices SET materialized_sha256 = ${x} WHERE id = ?`;",
      "run('INSERT OR REPLACE INTO model_files (a) VALUES (?)');",
      "const s = 'DELETE FROM jobs';",
    ];
    for (const line of bad) assert.ok(sqlUses('x.ts', line).length >= 1, line);
    const fine = [
      'const m = /^Bearer\\s+(\\S+)$/i.exec(h);',
      'const id = DATASET_REF.exec(request.dataset)?.[1];',
      'const model = await runtime.prepare(plan);',
      '// reads SELECT x FROM y in the store',
      "const msg = 'select a device from the list';",
    ];
    for (const line of fine) assert.deepEqual(sqlUses('x.ts', line), [], line);
  });
});
