//! OTLP/HTTP bodies: the export request in protobuf or JSON (per the `Content-Type`), and the
//! reply in the same encoding.

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use prost::Message as _;

use crate::error::CollectError;

/// The two encodings of OTLP/HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpEncoding {
    /// `application/x-protobuf`: the binary protobuf message.
    Protobuf,
    /// `application/json`: the OTLP/JSON mapping (hex trace ids, camelCase names).
    Json,
}

impl OtlpEncoding {
    /// The encoding a `Content-Type` names; [`CollectError::UnsupportedOtlpContentType`] for
    /// any other (the exporters send one of these two).
    pub fn from_content_type(ct: Option<&str>) -> Result<OtlpEncoding, CollectError> {
        let raw = ct.unwrap_or("");
        let essence = raw
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/x-protobuf" | "application/protobuf" => Ok(OtlpEncoding::Protobuf),
            "application/json" => Ok(OtlpEncoding::Json),
            _ => Err(CollectError::UnsupportedOtlpContentType(raw.to_string())),
        }
    }

    /// The `Content-Type` of a reply in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            OtlpEncoding::Protobuf => "application/x-protobuf",
            OtlpEncoding::Json => "application/json",
        }
    }
}

/// Decodes an export request; a body that is not one is [`CollectError::BadOtlp`] naming what
/// the decoder found wrong (a wrong type, an unknown field shape, a truncated message).
pub fn decode_request(
    body: &[u8],
    encoding: OtlpEncoding,
) -> Result<ExportLogsServiceRequest, CollectError> {
    match encoding {
        OtlpEncoding::Protobuf => {
            ExportLogsServiceRequest::decode(body).map_err(|e| CollectError::BadOtlp {
                encoding: "protobuf",
                reason: e.to_string(),
            })
        }
        OtlpEncoding::Json => serde_json::from_slice(body).map_err(|e| CollectError::BadOtlp {
            encoding: "JSON",
            reason: e.to_string(),
        }),
    }
}

/// The reply: empty when everything was taken, else a partial success with the count of
/// rejected records and what the sender should know.
pub fn response(rejected: u64, message: String) -> ExportLogsServiceResponse {
    ExportLogsServiceResponse {
        partial_success: (rejected > 0 || !message.is_empty()).then(|| ExportLogsPartialSuccess {
            rejected_log_records: i64::try_from(rejected).unwrap_or(i64::MAX),
            error_message: message,
        }),
    }
}

/// The reply's body in `encoding`.
pub fn encode_response(resp: &ExportLogsServiceResponse, encoding: OtlpEncoding) -> Vec<u8> {
    match encoding {
        OtlpEncoding::Protobuf => resp.encode_to_vec(),
        // A full success is `{}` (the generated serde would write `"partialSuccess": null`).
        OtlpEncoding::Json if resp.partial_success.is_none() => b"{}".to_vec(),
        OtlpEncoding::Json => serde_json::to_vec(resp).unwrap_or_else(|_| b"{}".to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        let e = |ct| OtlpEncoding::from_content_type(ct);
        assert_eq!(e(Some("application/x-protobuf")).unwrap(), OtlpEncoding::Protobuf);
        assert_eq!(e(Some("Application/JSON; charset=utf-8")).unwrap(), OtlpEncoding::Json);
        let err = e(Some("text/plain")).unwrap_err().to_string();
        assert!(err.contains("application/x-protobuf") && err.contains("text/plain"), "{err}");
        assert!(e(None).is_err());
    }

    #[test]
    fn json_requests_decode_and_wrong_types_are_named() {
        let body = br#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},
            "scopeLogs":[{"logRecords":[{"timeUnixNano":"1700000000000000000","severityNumber":9,
            "traceId":"5b8efff798038103d269b633813fc60c","body":{"stringValue":"hi"}}]}]}]}"#;
        let req = decode_request(body, OtlpEncoding::Json).unwrap();
        let rec = &req.resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!(rec.severity_number, 9);
        assert_eq!(rec.trace_id.len(), 16);
        let bad = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":"loud"}]}]}]}"#;
        let err = decode_request(bad, OtlpEncoding::Json).unwrap_err().to_string();
        assert!(err.starts_with("invalid OTLP JSON export request"), "{err}");
        let err = decode_request(b"\xff\xff\xff", OtlpEncoding::Protobuf).unwrap_err().to_string();
        assert!(err.starts_with("invalid OTLP protobuf export request"), "{err}");
    }

    #[test]
    fn replies_round_trip() {
        let r = response(2, "2 rejected".into());
        let back = ExportLogsServiceResponse::decode(&encode_response(&r, OtlpEncoding::Protobuf)[..]).unwrap();
        assert_eq!(back.partial_success.unwrap().rejected_log_records, 2);
        let json: serde_json::Value = serde_json::from_slice(&encode_response(&r, OtlpEncoding::Json)).unwrap();
        assert_eq!(json["partialSuccess"]["errorMessage"], "2 rejected");
        assert!(response(0, String::new()).partial_success.is_none());
        assert_eq!(encode_response(&response(0, String::new()), OtlpEncoding::Json), b"{}");
    }
}
