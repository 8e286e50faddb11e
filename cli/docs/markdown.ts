// The little Markdown the generated docs need. Output must be byte-stable: tests compare it.

export const code = (s: string): string => `\`${s}\``;

// Columns padded to a common width, the way biome formats Markdown tables, so that
// `biome check --write .` leaves the generated pages as they are.
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [head, ...rows].map((r) => r.map((c) => c.replace(/\|/g, '\\|')));
  const widths = head.map((_, i) => Math.max(3, ...all.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |\n`;
  const [first, ...rest] = all;
  return line(first!) + line(widths.map((w) => '-'.repeat(w))) + rest.map(line).join('');
}

/** The banner that tells a reader where to make changes instead. */
export const generatedFrom = (sources: string): string =>
  `<!-- Generated from ${sources} by \`tapwire docs --write\` (\`npm run docs\`). Edit the source, not this file; tests/docs.test.ts fails when it is stale. -->\n`;
