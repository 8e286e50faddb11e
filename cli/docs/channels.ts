// docs/channels.md from the diagnostics-channel table (core/channels.ts): every channel the
// preload subscribes to, who publishes it and what tapwire reads from it.
import { CHANNEL_LIST } from '../../core/channels.js';
import { code, generatedFrom, table } from './markdown.js';

export function renderChannelsDoc(): string {
  const rows = CHANNEL_LIST.map((c) => [code(c.name), c.publisher, c.use]);
  return `# Diagnostics channels

${generatedFrom('core/channels.ts')}
Where a runtime or a library publishes a \`node:diagnostics_channel\`, tapwire subscribes instead of
patching: nothing of the app or the library is changed, ESM and CommonJS apps look the same, and a
channel nobody publishes on costs nothing. These are all of them. What tapwire patches where
nothing is published is in [instrumentation.md](instrumentation.md).

${table(['channel', 'published by', 'what tapwire reads'], rows)}`;
}
