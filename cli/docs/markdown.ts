// The little Markdown the generated docs need. Output must be byte-stable: tests compare it.

export const code = (s: string): string => `\`${s}\``;

export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const line = (cells: readonly string[]) => `| ${cells.map(cell).join(' | ')} |\n`;
  return line(head) + line(head.map(() => '---')) + rows.map(line).join('');
}

/** The banner that tells a reader where to make changes instead. */
export const generatedFrom = (sources: string): string =>
  `<!-- Generated from ${sources} by \`tapwire docs --write\` (\`npm run docs\`). Edit those, not this file; tests/docs.test.ts fails when it is stale. -->\n`;
