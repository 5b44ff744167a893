// Writing a benchmark's results into BENCHMARKS.md: each bench owns one
// "## <heading>" section, replaced in place on a rerun (other sections kept),
// appended when new. The section carries the command line that produced it.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const BENCHMARKS_PATH = join(import.meta.dirname, '..', 'BENCHMARKS.md');

/** Replace (or append) the section whose first line is `heading` with `section`. */
export function writeSection(heading: string, section: string, path = BENCHMARKS_PATH): void {
  if (!section.startsWith(heading)) throw new Error(`section must start with its heading "${heading}"`);
  let text = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const start = text.indexOf(heading + '\n');
  if (start >= 0) {
    const next = text.indexOf('\n## ', start + heading.length);
    text = text.slice(0, start) + section.trimEnd() + '\n' + (next >= 0 ? text.slice(next) : '');
  } else {
    text = text.trimEnd() + '\n\n' + section.trimEnd() + '\n';
  }
  writeFileSync(path, text);
}

/** `npm run bench:<name> -- <args>` as typed, for the section's "Command:" line. */
export function commandLine(name: string): string {
  const args = process.argv.slice(2);
  return `npm run bench:${name}${args.length > 0 ? ' -- ' + args.join(' ') : ''}`;
}
