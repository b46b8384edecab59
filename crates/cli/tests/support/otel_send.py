# Sends OpenTelemetry logs the way an instrumented application does: the SDK's LoggerProvider,
# the standard logging bridge, inside a span, through the OTLP exporter named on the command
# line, with the optional fourth argument sent as the `authorization` header (metadata for gRPC).
# Prints the span's ids, then "exported" and each export's result.
import json, logging, sys

from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import LogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

mode, endpoint, run = sys.argv[1], sys.argv[2], sys.argv[3]
headers = {"authorization": sys.argv[4]} if len(sys.argv) > 4 and sys.argv[4] else None
if mode == "http":
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    inner = OTLPLogExporter(endpoint=endpoint + "/v1/logs", compression=Compression.Gzip, headers=headers)
else:
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    inner = OTLPLogExporter(endpoint=endpoint, insecure=True, headers=headers)

results = []
class Checked(LogRecordExporter):
    """The exporter, with each export's result kept (the SDK only logs failures)."""
    def export(self, batch):
        r = inner.export(batch)
        results.append(r.name)
        return r
    def shutdown(self):
        inner.shutdown()
    def force_flush(self, timeout_millis=30000):
        return True

provider = LoggerProvider(resource=Resource.create(
    {"service.name": "checkout-" + mode, "deployment.environment": "e2e"}))
provider.add_log_record_processor(SimpleLogRecordProcessor(Checked()))
log = logging.getLogger("shop")
log.addHandler(LoggingHandler(level=logging.DEBUG, logger_provider=provider))
log.setLevel(logging.DEBUG)
log.propagate = False

tracer = TracerProvider().get_tracer("shop")
with tracer.start_as_current_span("order") as span:
    ctx = span.get_span_context()
    print(json.dumps({"trace_id": format(ctx.trace_id, "032x"), "span_id": format(ctx.span_id, "016x")}), flush=True)
    log.info("order %s received", "o-1", extra={"order.id": 1, "run": run})
    log.warning("payment retried for order %s", "o-1", extra={"order.id": 1, "run": run, "http.response.status_code": 502})
    log.error("payment declined for order %s", "o-1", extra={"order.id": 1, "run": run, "client.address": "10.1.2.3"})
provider.shutdown()
print("exported " + " ".join(results), flush=True)
