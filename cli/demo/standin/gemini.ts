// Gemini's generateContent and streamGenerateContent (alt=sse). A stream carries cumulative
// usageMetadata in every chunk, so a cut one has reported the output tokens so far. Cached input is
// inside promptTokenCount (cachedContentTokenCount says how much); thinking tokens are beside the
// candidates' (thoughtsTokenCount).
import { type Call, json, piece, type Reply, stream, WORDS } from './reply.js';

export function geminiGenerate(call: Call, method: string): Reply {
  const { model, input, output, cached, reasoning } = call;
  const visible = output - reasoning;
  const usage = (candidates: number) => ({
    promptTokenCount: input,
    candidatesTokenCount: candidates,
    ...(cached > 0 ? { cachedContentTokenCount: cached } : {}),
    ...(reasoning > 0 ? { thoughtsTokenCount: reasoning } : {}),
    totalTokenCount: input + candidates + reasoning,
  });
  const candidate = (text: string, finish?: string) => ({
    content: { parts: [{ text }], role: 'model' },
    ...(finish ? { finishReason: finish } : {}),
    index: 0,
  });
  if (method === 'generateContent') {
    return json(
      200,
      {
        candidates: [candidate(WORDS.join(''), 'STOP')],
        usageMetadata: usage(visible),
        modelVersion: model,
        responseId: 'standin',
      },
      call.served(input, output, '200'),
    );
  }
  const events: string[] = [];
  for (let i = 0; i < call.chunks; i++) {
    const last = i === call.chunks - 1;
    const out = last ? visible : Math.min(i + 1, visible);
    events.push(
      `data: ${JSON.stringify({
        candidates: [candidate(piece(i), last ? 'STOP' : undefined)],
        usageMetadata: usage(out),
        modelVersion: model,
        responseId: 'standin',
      })}\r\n\r\n`,
    );
  }
  const cutAt = Math.floor(events.length / 2);
  return stream(
    events,
    call,
    call.served(input, output, '200'),
    call.served(input, Math.min(cutAt, visible) + reasoning, 'cut'),
  );
}
