// What a POST /v1/metrics answers, and how it is written on a node:http response: shared by the
// endpoint's server (which loads neither ./workers.ts nor its decoders before a push arrives) and
// the sidecar's receiver.
import type { ServerResponse } from 'node:http';

/** What a POST /v1/metrics answers: status and a JSON body, or protobuf bytes for a protobuf push. */
export interface OtlpAnswer {
  status: number;
  body: unknown;
  /** The ExportMetricsServiceResponse of a protobuf push taken (200). */
  proto?: Uint8Array;
}

/** Writes an OtlpAnswer on a node:http response. */
export function reply(res: ServerResponse, answer: OtlpAnswer): void {
  if (res.headersSent) return;
  if (answer.proto !== undefined) {
    res.writeHead(answer.status, {
      'content-type': 'application/x-protobuf',
      'content-length': answer.proto.length,
    });
    res.end(answer.proto);
    return;
  }
  const text = JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
