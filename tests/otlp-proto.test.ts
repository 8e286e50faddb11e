// The sidecar's and the /metrics holder's protobuf reading (exporters/otlp-proto.ts) against the
// official OTLP definitions: Python's opentelemetry-proto encodes a request, tapwire decodes it,
// and what the merge reads from it is what it reads from the same request in OTLP JSON.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { convertResourceMetrics } from '../exporters/otlp-json.js';
import { decodeMetricsRequest, encodeMetricsResponse } from '../exporters/otlp-proto.js';

const ENCODE = `
import base64, json, sys
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest as Req, ExportMetricsServiceResponse as Res
kind, text = sys.argv[1], sys.stdin.read()
def b64(node):
    if isinstance(node, dict):
        return {k: (base64.b64encode(bytes.fromhex(v)).decode() if k in ('traceId', 'spanId') else b64(v)) for k, v in node.items()}
    return [b64(v) for v in node] if isinstance(node, list) else node
if kind == 'request':
    sys.stdout.buffer.write(json_format.ParseDict(b64(json.loads(text)), Req()).SerializeToString())
else:
    m = Res(); m.ParseFromString(bytes.fromhex(text)); print(json.dumps(json_format.MessageToDict(m)))
`;

function python(kind: string, input: string): Buffer {
  const r = spawnSync('python3', ['-c', ENCODE, kind], { input });
  if (r.status !== 0) throw new Error(r.stderr.toString());
  return r.stdout;
}

const kv = (key: string, value: object) => ({ key, value });
const REQUEST = {
  resourceMetrics: [
    {
      resource: {
        attributes: [
          kv('service.name', { stringValue: 'worker ✓' }),
          kv('process.pid', { intValue: '4242' }),
          kv('up', { boolValue: true }),
          kv('ratio', { doubleValue: 0.25 }),
          kv('tags', { arrayValue: { values: [{ stringValue: 'a' }, { intValue: '-3' }] } }),
        ],
      },
      scopeMetrics: [
        {
          scope: { name: 'tapwire', version: '0.1.0' },
          metrics: [
            {
              name: 'http.server.request.duration',
              unit: 's',
              description: 'Duration',
              histogram: {
                aggregationTemporality: 2,
                dataPoints: [
                  {
                    attributes: [kv('http.request.method', { stringValue: 'GET' })],
                    startTimeUnixNano: '1796000000000000000',
                    timeUnixNano: '1796000001000000000',
                    count: '3',
                    sum: 1.5,
                    bucketCounts: ['1', '2', '0'],
                    explicitBounds: [0.1, 1],
                    exemplars: [
                      {
                        timeUnixNano: '1796000000500000000',
                        asDouble: 0.7,
                        traceId: '0af7651916cd43dd8448eb211c80319c',
                        spanId: 'b7ad6b7169203331',
                      },
                    ],
                  },
                ],
              },
            },
            {
              name: 'tapwire.log.records',
              unit: '{record}',
              sum: {
                aggregationTemporality: 2,
                isMonotonic: true,
                dataPoints: [{ attributes: [kv('level', { stringValue: 'warn' })], asInt: '7' }],
              },
            },
            { name: 'v8js.memory.heap.used', unit: 'By', gauge: { dataPoints: [{ asDouble: 1048576.5 }] } },
            {
              name: 'app.queue.depth',
              sum: { aggregationTemporality: 2, isMonotonic: false, dataPoints: [{ asInt: '-2' }] },
            },
          ],
        },
      ],
    },
  ],
};

describe('OTLP protobuf metrics', () => {
  it('read as the official definitions write them: the same as the JSON form', () => {
    const bytes = python('request', JSON.stringify(REQUEST));
    const decoded = decodeMetricsRequest(bytes);
    expect(decoded.resourceMetrics).toHaveLength(1);
    const fromProto = convertResourceMetrics(decoded.resourceMetrics[0]!, 1000);
    const fromJson = convertResourceMetrics(REQUEST.resourceMetrics[0]!, 1000);
    expect(fromProto).toEqual(fromJson);
    expect(fromProto.points).toBe(4);
    expect(fromProto.resourceMetrics.resource.attributes).toEqual({
      'service.name': 'worker ✓',
      'process.pid': 4242,
      up: true,
      ratio: 0.25,
      tags: '["a",-3]',
    });
    const h = fromProto.resourceMetrics.scopeMetrics[0]!.metrics[0]!.dataPoints[0]!.value as unknown as {
      exemplars: unknown[];
    };
    expect(h.exemplars).toEqual([
      undefined,
      {
        traceId: '0af7651916cd43dd8448eb211c80319c',
        spanId: 'b7ad6b7169203331',
        value: 0.7,
        timeMs: 1796000000500,
      },
      undefined,
    ]);
  });

  it('refuses a body that is not a request', () => {
    expect(() => decodeMetricsRequest(Buffer.from('x'))).toThrow('protobuf body ends inside a field');
    expect(() => decodeMetricsRequest(Buffer.from([0x0a, 0x05, 0x01]))).toThrow(
      'protobuf body ends inside a field',
    );
  });

  it('answers ExportMetricsServiceResponse as the official definitions read it', () => {
    expect(encodeMetricsResponse(0)).toEqual(new Uint8Array(0));
    const read = (n: number) =>
      JSON.parse(python('response', Buffer.from(encodeMetricsResponse(n)).toString('hex')).toString());
    expect(read(0)).toEqual({});
    expect(read(3)).toEqual({ partialSuccess: { rejectedDataPoints: '3' } });
    expect(read(300)).toEqual({ partialSuccess: { rejectedDataPoints: '300' } });
  });
});
