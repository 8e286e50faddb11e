// The streamed chat completion bench/ai.mjs serves and parses: the wire format of OpenAI's chat
// completions with stream_options.include_usage (as tests/support/ai-standin.ts serves it): a role
// chunk, CHUNKS content chunks, a finish chunk, a usage chunk and `data: [DONE]`.
const WORDS = ['Hello', ' from', ' the', ' stand', '-in', ' — ', 'ünïcödé', ' ✓', ' done', '.'];

/** The SSE events, one string each. */
export function chatEvents(chunks, model = 'gpt-4o-mini-2024-07-18') {
  const created = 1_700_000_000;
  const chunk = (delta, finish) =>
    `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_bench', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], usage: null })}\n\n`;
  const events = [chunk({ role: 'assistant', content: '', refusal: null }, null)];
  for (let i = 0; i < chunks; i++) events.push(chunk({ content: WORDS[i % WORDS.length] }, null));
  events.push(chunk({}, 'stop'));
  const usage = { prompt_tokens: 12, completion_tokens: chunks, total_tokens: 12 + chunks };
  events.push(
    `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_bench', choices: [], usage })}\n\n`,
  );
  events.push('data: [DONE]\n\n');
  return events;
}
