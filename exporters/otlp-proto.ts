// OTLP/HTTP protobuf metrics (ExportMetricsServiceRequest) read into the OTLP JSON shape that
// ./otlp-json.ts converts, so a process pushing with the specification's default protocol
// (http/protobuf) can push to the sidecar or to the process holding a host's /metrics. Only what
// that conversion reads is decoded (field numbers from opentelemetry/proto/metrics/v1/metrics.proto
// and common/v1/common.proto); every other field is skipped by its wire type. A few lines of wire
// format instead of a protobuf library (which would be most of the preload's start-up graph).
import { OtlpFormatError, type OtlpResourceMetrics } from './otlp-json.js';

const VARINT = 0;
const FIXED64 = 1;
const LENGTH = 2;
const FIXED32 = 5;

class Reader {
  pos = 0;
  private readonly view: DataView;

  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new OtlpFormatError('protobuf body ends inside a field');
  }

  /** A varint as a BigInt (int64 values may need all 64 bits). */
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      this.need(1);
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new OtlpFormatError('protobuf varint longer than 10 bytes');
    }
  }

  small(): number {
    return Number(this.varint());
  }

  fixed64(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  double(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  bytes(): Uint8Array {
    const n = this.small();
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  skip(wire: number): void {
    if (wire === VARINT) {
      this.varint();
    } else if (wire === LENGTH) {
      this.bytes();
    } else if (wire === FIXED64 || wire === FIXED32) {
      const n = wire === FIXED64 ? 8 : 4;
      this.need(n);
      this.pos += n;
    } else {
      throw new OtlpFormatError(`protobuf wire type ${wire} is not used by OTLP`);
    }
  }
}

const text = new TextDecoder();

/** Calls `field` for each field of a message; a field it does not read (returns false) is skipped. */
function each(buf: Uint8Array, field: (n: number, wire: number, r: Reader) => boolean | undefined): void {
  const r = new Reader(buf);
  while (r.pos < buf.length) {
    const tag = r.small();
    const wire = tag & 7;
    if (field(tag >>> 3, wire, r) !== true) r.skip(wire);
  }
}

/** A repeated fixed64 or double, packed (one length-delimited run) or not. */
function repeated<T>(wire: number, r: Reader, one: (r: Reader) => T, into: T[]): boolean {
  if (wire === FIXED64) {
    into.push(one(r));
    return true;
  }
  if (wire !== LENGTH) return false;
  const run = new Reader(r.bytes());
  while (run.pos < run.buf.length) into.push(one(run));
  return true;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// biome-ignore lint/suspicious/noExplicitAny: the OTLP JSON shape ./otlp-json.ts reads loosely
type Json = any;

function anyValue(buf: Uint8Array): Json {
  const v: Json = {};
  each(buf, (n, wire, r) => {
    if (n === 1 && wire === LENGTH) v.stringValue = text.decode(r.bytes());
    else if (n === 2 && wire === VARINT) v.boolValue = r.varint() !== 0n;
    else if (n === 3 && wire === VARINT) v.intValue = BigInt.asIntN(64, r.varint()).toString();
    else if (n === 4 && wire === FIXED64) v.doubleValue = r.double();
    else if (n === 5 && wire === LENGTH) v.arrayValue = { values: list(r.bytes(), anyValue) };
    else if (n === 6 && wire === LENGTH) v.kvlistValue = { values: list(r.bytes(), keyValue) };
    else return false;
    return true;
  });
  return v;
}

/** The repeated message field 1 of `buf` (ArrayValue.values, KeyValueList.values). */
function list(buf: Uint8Array, item: (b: Uint8Array) => Json): Json[] {
  const out: Json[] = [];
  each(buf, (n, wire, r) => n === 1 && wire === LENGTH && out.push(item(r.bytes())) > 0);
  return out;
}

function keyValue(buf: Uint8Array): Json {
  const kv: Json = {};
  each(buf, (n, wire, r) => {
    if (n === 1 && wire === LENGTH) kv.key = text.decode(r.bytes());
    else if (n === 2 && wire === LENGTH) kv.value = anyValue(r.bytes());
    else return false;
    return true;
  });
  return kv;
}

function exemplar(buf: Uint8Array): Json {
  const e: Json = {};
  each(buf, (n, wire, r) => {
    if (n === 2 && wire === FIXED64) e.timeUnixNano = r.fixed64().toString();
    else if (n === 3 && wire === FIXED64) e.asDouble = r.double();
    else if (n === 4 && wire === LENGTH) e.spanId = hex(r.bytes());
    else if (n === 5 && wire === LENGTH) e.traceId = hex(r.bytes());
    else return false;
    return true;
  });
  return e;
}

function numberPoint(buf: Uint8Array): Json {
  const p: Json = { attributes: [] };
  each(buf, (n, wire, r) => {
    if (n === 7 && wire === LENGTH) p.attributes.push(keyValue(r.bytes()));
    else if (n === 4 && wire === FIXED64) p.asDouble = r.double();
    else if (n === 6 && wire === FIXED64) p.asInt = BigInt.asIntN(64, r.fixed64()).toString();
    else return false;
    return true;
  });
  return p;
}

function histogramPoint(buf: Uint8Array): Json {
  const p: Json = { attributes: [], bucketCounts: [], explicitBounds: [], exemplars: [] };
  each(buf, (n, wire, r) => {
    if (n === 9 && wire === LENGTH) p.attributes.push(keyValue(r.bytes()));
    else if (n === 4 && wire === FIXED64) p.count = r.fixed64().toString();
    else if (n === 5 && wire === FIXED64) p.sum = r.double();
    else if (n === 6) return repeated(wire, r, (x) => x.fixed64().toString(), p.bucketCounts);
    else if (n === 7) return repeated(wire, r, (x) => x.double(), p.explicitBounds);
    else if (n === 8 && wire === LENGTH) p.exemplars.push(exemplar(r.bytes()));
    else return false;
    return true;
  });
  return p;
}

/** Gauge, Sum or Histogram: data points (1), aggregation temporality (2), monotonic (3, sums). */
function points(buf: Uint8Array, point: (b: Uint8Array) => Json): Json {
  const m: Json = { dataPoints: [] };
  each(buf, (n, wire, r) => {
    if (n === 1 && wire === LENGTH) m.dataPoints.push(point(r.bytes()));
    else if (n === 2 && wire === VARINT) m.aggregationTemporality = r.small();
    else if (n === 3 && wire === VARINT) m.isMonotonic = r.varint() !== 0n;
    else return false;
    return true;
  });
  return m;
}

function metric(buf: Uint8Array): Json {
  const m: Json = {};
  each(buf, (n, wire, r) => {
    if (wire !== LENGTH) return false;
    if (n === 1) m.name = text.decode(r.bytes());
    else if (n === 2) m.description = text.decode(r.bytes());
    else if (n === 3) m.unit = text.decode(r.bytes());
    else if (n === 5) m.gauge = points(r.bytes(), numberPoint);
    else if (n === 7) m.sum = points(r.bytes(), numberPoint);
    else if (n === 9) m.histogram = points(r.bytes(), histogramPoint);
    else return false;
    return true;
  });
  return m;
}

function scopeMetrics(buf: Uint8Array): Json {
  const s: Json = { metrics: [] };
  each(buf, (n, wire, r) => {
    if (wire !== LENGTH) return false;
    if (n === 1) {
      s.scope = {};
      each(r.bytes(), (f, w, x) => {
        if (w !== LENGTH || (f !== 1 && f !== 2)) return false;
        s.scope[f === 1 ? 'name' : 'version'] = text.decode(x.bytes());
        return true;
      });
    } else if (n === 2) s.metrics.push(metric(r.bytes()));
    else return false;
    return true;
  });
  return s;
}

function resourceMetrics(buf: Uint8Array): OtlpResourceMetrics {
  const rm: Json = { resource: { attributes: [] }, scopeMetrics: [] };
  each(buf, (n, wire, r) => {
    if (wire !== LENGTH) return false;
    if (n === 1) {
      each(
        r.bytes(),
        (f, w, x) => f === 1 && w === LENGTH && rm.resource.attributes.push(keyValue(x.bytes())) > 0,
      );
    } else if (n === 2) rm.scopeMetrics.push(scopeMetrics(r.bytes()));
    else return false;
    return true;
  });
  return rm;
}

/** An ExportMetricsServiceRequest body; throws OtlpFormatError when it is not one. */
export function decodeMetricsRequest(body: Uint8Array): { resourceMetrics: OtlpResourceMetrics[] } {
  const out: OtlpResourceMetrics[] = [];
  try {
    each(body, (n, wire, r) => n === 1 && wire === LENGTH && out.push(resourceMetrics(r.bytes())) > 0);
  } catch (error) {
    if (error instanceof OtlpFormatError) throw error;
    throw new OtlpFormatError(`not an OTLP protobuf metrics request (${(error as Error).message})`);
  }
  return { resourceMetrics: out };
}

/** ExportMetricsServiceResponse: empty for full success, else partial_success.rejected_data_points. */
export function encodeMetricsResponse(rejected: number): Uint8Array {
  if (rejected <= 0) return new Uint8Array(0);
  const varint: number[] = [];
  for (let v = rejected; ; v = Math.floor(v / 128)) {
    if (v < 128) {
      varint.push(v);
      break;
    }
    varint.push((v % 128) | 0x80);
  }
  // partial_success (1, message) { rejected_data_points (1, int64) }
  return Uint8Array.from([0x0a, varint.length + 1, 0x08, ...varint]);
}
