import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** A span as an OTLP collector receives it (the fields the tests look at). */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP's enum: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
}

/** A tiny OTLP/HTTP traces receiver (`POST /v1/traces`, protobuf or JSON). */
export interface OtlpReceiver extends AsyncDisposable {
  /** The base URL, as `OTEL_EXPORTER_OTLP_ENDPOINT` takes it. */
  url: string;
  spans: ReceivedSpan[];
  /** Each request's body as it arrived (after gunzip), to search for what must not be there. */
  bodies: Buffer[];
  /** Content types of the export requests received. */
  contentTypes: string[];
  close(): Promise<void>;
}

/** Starts a receiver on a free port of 127.0.0.1. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const bodies: Buffer[] = [];
  const contentTypes: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const type = req.headers['content-type'] ?? '';
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      bodies.push(body);
      contentTypes.push(type);
      if (type.startsWith('application/json')) {
        spans.push(...fromJson(JSON.parse(body.toString('utf8')) as JsonRequest));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } else {
        spans.push(...fromProtobuf(body));
        // An empty ExportTraceServiceResponse.
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return { url: `http://127.0.0.1:${port}`, spans, bodies, contentTypes, close, [Symbol.asyncDispose]: close };
}

// ---------------------------------------------------------------- OTLP JSON

interface JsonKeyValue {
  key: string;
  value: Record<string, unknown>;
}
interface JsonRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: JsonKeyValue[] };
    scopeSpans?: Array<{
      spans?: Array<{ traceId: string; spanId: string; parentSpanId?: string; name: string; kind?: number; attributes?: JsonKeyValue[] }>;
    }>;
  }>;
}

const jsonValue = (value: Record<string, unknown>): unknown =>
  value.stringValue ?? value.boolValue ?? (value.intValue !== undefined ? Number(value.intValue) : undefined) ?? value.doubleValue ?? value.arrayValue;

const jsonAttributes = (list: JsonKeyValue[] = []) => Object.fromEntries(list.map(({ key, value }) => [key, jsonValue(value)]));

function fromJson(request: JsonRequest): ReceivedSpan[] {
  return (request.resourceSpans ?? []).flatMap((resourceSpans) => {
    const resource = jsonAttributes(resourceSpans.resource?.attributes);
    return (resourceSpans.scopeSpans ?? []).flatMap((scope) =>
      (scope.spans ?? []).map((span) => ({
        traceId: span.traceId,
        spanId: span.spanId,
        parentSpanId: span.parentSpanId ?? '',
        name: span.name,
        kind: span.kind ?? 0,
        attributes: jsonAttributes(span.attributes),
        resource,
      })),
    );
  });
}

// ---------------------------------------------------------------- OTLP protobuf

/** Fields of one protobuf message by number: length-delimited ones as bytes, varints as bigint. */
type Fields = Map<number, Array<Buffer | bigint>>;

/** Decodes one message's fields (protobuf wire format: varint, fixed64, length-delimited, fixed32). */
function decode(buffer: Buffer): Fields {
  const fields: Fields = new Map();
  let offset = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = buffer[offset++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
    }
  };
  while (offset < buffer.length) {
    const tag = Number(varint());
    const field = tag >> 3;
    let value: Buffer | bigint;
    switch (tag & 7) {
      case 0:
        value = varint();
        break;
      case 1:
        value = buffer.readBigUInt64LE(offset);
        offset += 8;
        break;
      case 2: {
        const length = Number(varint());
        value = buffer.subarray(offset, offset + length);
        offset += length;
        break;
      }
      case 5:
        value = BigInt(buffer.readUInt32LE(offset));
        offset += 4;
        break;
      default:
        throw new Error(`unsupported protobuf wire type ${tag & 7}`);
    }
    fields.set(field, [...(fields.get(field) ?? []), value]);
  }
  return fields;
}

const bytes = (fields: Fields, field: number): Buffer[] => (fields.get(field) ?? []).filter((value): value is Buffer => Buffer.isBuffer(value));
const first = (fields: Fields, field: number): Buffer | undefined => bytes(fields, field)[0];

/** opentelemetry.proto.common.v1.KeyValue list → object (string, bool, int and double values). */
function protoAttributes(list: Buffer[]): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const encoded of list) {
    const keyValue = decode(encoded);
    const key = first(keyValue, 1)?.toString('utf8') ?? '';
    const any = decode(first(keyValue, 2) ?? Buffer.alloc(0));
    const string = first(any, 1);
    if (string) attributes[key] = string.toString('utf8');
    else if (any.has(2)) attributes[key] = any.get(2)![0] === 1n;
    else if (any.has(3)) attributes[key] = Number(BigInt.asIntN(64, any.get(3)![0] as bigint));
    else if (any.has(4)) {
      const raw = Buffer.alloc(8);
      raw.writeBigUInt64LE(any.get(4)![0] as bigint);
      attributes[key] = raw.readDoubleLE();
    } else attributes[key] = null;
  }
  return attributes;
}

/** ExportTraceServiceRequest → spans: resource_spans(1) → resource(1), scope_spans(2) → spans(2). */
function fromProtobuf(body: Buffer): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const encodedResourceSpans of bytes(decode(body), 1)) {
    const resourceSpans = decode(encodedResourceSpans);
    const resource = protoAttributes(bytes(decode(first(resourceSpans, 1) ?? Buffer.alloc(0)), 1));
    for (const encodedScope of bytes(resourceSpans, 2)) {
      for (const encodedSpan of bytes(decode(encodedScope), 2)) {
        // Span: trace_id 1, span_id 2, parent_span_id 4, name 5, kind 6, attributes 9.
        const span = decode(encodedSpan);
        spans.push({
          traceId: first(span, 1)?.toString('hex') ?? '',
          spanId: first(span, 2)?.toString('hex') ?? '',
          parentSpanId: first(span, 4)?.toString('hex') ?? '',
          name: first(span, 5)?.toString('utf8') ?? '',
          kind: Number((span.get(6)?.[0] as bigint | undefined) ?? 0n),
          attributes: protoAttributes(bytes(span, 9)),
          resource,
        });
      }
    }
  }
  return spans;
}
