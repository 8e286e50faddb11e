// Helpers for the measured children (bench/lib/*-child.mjs): kept apart from ./common.mjs so a
// child loads nothing it does not need.

/** Sum of the samples of the families matching namePattern whose labels match labelPattern. */
export function sumSamples(text, namePattern, labelPattern = /(?:)/) {
  let total = 0;
  let seen = false;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m && namePattern.test(m[1]) && labelPattern.test(m[2] ?? '')) {
      total += Number(m[3]);
      seen = true;
    }
  }
  return seen ? total : null;
}

/** The agent's /metrics as the measured child sees it; null when nothing answers (bare). */
export async function scrapeOwn() {
  const port = process.env.METRICS_PORT;
  if (!port) return null;
  // On Node the endpoint opens at the first turn of the event loop: a child whose work never
  // turned it (synchronous SQLite) asks before it listens. Asked again for up to 3 s.
  const deadline = Date.now() + 3000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(3000) });
      return res.status === 200 ? await res.text() : null;
    } catch {
      if (Date.now() > deadline) return null;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** The streamed chat completion bench/ai.mjs's children ask the stand-in for (fetch options). */
export const AI_STREAM_REQUEST = {
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
  body: JSON.stringify({
    model: 'gpt-4o-mini',
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'Say hello a few thousand times.' }],
  }),
};

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
