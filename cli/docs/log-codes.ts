// docs/log-codes.md from the log-code table (core/codes.ts): every `code` a tapwire line carries.
import { LOG_CODES, type LogCodeDef } from '../../core/codes.js';
import { code, generatedFrom, table } from './markdown.js';

export function renderLogCodesDoc(): string {
  const rows = (Object.entries(LOG_CODES) as [string, LogCodeDef][]).map(([name, d]) => [
    code(name),
    d.level,
    d.from,
    d.meaning,
    d.action === '' ? '—' : d.action,
  ]);
  return `# Log codes

${generatedFrom('core/codes.ts')}
Every line tapwire writes itself — the preload and the sidecar on stderr as JSON with
\`"component":"tapwire"\`, the CLI as text — carries one of these codes, always at the level given
here. Lines below the configured level (\`LOG_LEVEL\`, else the profile's: see
[configuration.md](configuration.md)) are not written.

${table(['code', 'level', 'from', 'meaning', 'what to do'], rows)}`;
}
