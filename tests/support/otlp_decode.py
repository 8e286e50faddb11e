# Decodes OTLP request bodies with the official OTLP protobuf definitions (the opentelemetry-proto
# package from PyPI, generated from github.com/open-telemetry/opentelemetry-proto), so the tests
# check tapwire's exports against the specification rather than against tapwire's own reading.
#
# A long-lived filter: on stdin, one JSON header line {"path", "format": "protobuf"|"json",
# "length"} followed by `length` bytes of body (already gunzipped); on stdout, one JSON line per
# body: {"ok": true, "body": <the request as OTLP JSON>} or {"ok": false, "error": "..."}.
# OTLP JSON differs from the protobuf JSON mapping in one point: trace and span ids are hex, not
# base64 (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding); both directions
# convert them. A JSON body is parsed strictly (an unknown field is an error).
import base64
import json
import sys

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

MESSAGES = {
    "/v1/traces": ExportTraceServiceRequest,
    "/v1/metrics": ExportMetricsServiceRequest,
    "/v1/logs": ExportLogsServiceRequest,
}
IDS = {"traceId", "spanId", "parentSpanId"}


def convert_ids(node, convert):
    if isinstance(node, dict):
        return {k: (convert(v) if k in IDS and isinstance(v, str) else convert_ids(v, convert)) for k, v in node.items()}
    if isinstance(node, list):
        return [convert_ids(v, convert) for v in node]
    return node


def decode(path, fmt, data):
    message = MESSAGES[path]()
    if fmt == "protobuf":
        message.ParseFromString(data)
    else:
        as_base64 = convert_ids(json.loads(data), lambda h: base64.b64encode(bytes.fromhex(h)).decode())
        json_format.ParseDict(as_base64, message, ignore_unknown_fields=False)
    body = json_format.MessageToDict(message, use_integers_for_enums=True)
    return convert_ids(body, lambda b: base64.b64decode(b).hex())


def main():
    stdin = sys.stdin.buffer
    while True:
        line = stdin.readline()
        if not line:
            return
        header = json.loads(line)
        data = stdin.read(header["length"])
        try:
            out = {"ok": True, "body": decode(header["path"], header["format"], data)}
        except Exception as error:  # noqa: BLE001 - every failure is reported to the test
            out = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


main()
