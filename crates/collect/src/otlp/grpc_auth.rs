//! Who may export over OTLP/gRPC: the [`GrpcAuth`] the server asks about every request, and
//! the gRPC status of each refusal.
//!
//! The rules are the HTTP API's (its API keys with scopes, its token, its failed-attempt limit
//! and its per-key ingest rate), so the implementation lives where those are: `crates/node`
//! implements this trait over `loglynx-api`'s `Auth` and `IngestLimits` (this crate cannot
//! depend on the API crate, which depends on it).

use std::net::SocketAddr;

use prost::Message as _;
use tonic::codegen::Bytes;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Status};

/// Who sent an admitted request: the name the ingest rate is counted under (a key's name,
/// `token`, or `anonymous` when no credential is required).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub String);

/// Why a request is refused, with the message the client gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// No credential, or a wrong or revoked one (`UNAUTHENTICATED`).
    Unauthenticated(String),
    /// A valid key whose scope does not allow ingest (`PERMISSION_DENIED`).
    PermissionDenied(String),
    /// Over a limit for `retry_after` seconds: the address's wrong attempts, or the key's
    /// ingest rate (`RESOURCE_EXHAUSTED`, with the delay as `RetryInfo`).
    Exhausted {
        /// What happened, naming the setting.
        reason: String,
        /// Seconds the client should wait.
        retry_after: u64,
    },
    /// A request the client must change, e.g. more records than one request may carry
    /// (`INVALID_ARGUMENT`).
    Invalid(String),
}

/// The credential check of the OTLP/gRPC server.
pub trait GrpcAuth: Send + Sync + 'static {
    /// Checks a request before its message is read: `authorization` is its `authorization`
    /// metadata (`None` when absent or not text), `peer` the client's address.
    fn authenticate(
        &self,
        authorization: Option<&str>,
        peer: Option<SocketAddr>,
    ) -> Result<Caller, Denied>;

    /// Lets a request of `records` from `caller` in (its ingest rate), or refuses it.
    fn admit(&self, caller: &Caller, records: usize) -> Result<(), Denied>;
}

/// The metadata key the OpenTelemetry SDKs read a retry delay from (a binary `RetryInfo`),
/// besides the standard status details.
const RETRY_INFO_KEY: &str = "google.rpc.retryinfo-bin";

impl From<Denied> for Status {
    fn from(d: Denied) -> Status {
        match d {
            Denied::Unauthenticated(m) => Status::unauthenticated(m),
            Denied::PermissionDenied(m) => Status::permission_denied(m),
            Denied::Invalid(m) => Status::invalid_argument(m),
            Denied::Exhausted {
                reason,
                retry_after,
            } => {
                // OTLP exporters retry RESOURCE_EXHAUSTED only when the server says when.
                let info = retry_info(retry_after);
                let details = RpcStatus {
                    code: Code::ResourceExhausted as i32,
                    message: reason.clone(),
                    details: vec![ProtoAny {
                        type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
                        value: info.clone(),
                    }],
                };
                let mut metadata = MetadataMap::new();
                metadata.insert_bin(RETRY_INFO_KEY, MetadataValue::from_bytes(&info));
                Status::with_details_and_metadata(
                    Code::ResourceExhausted,
                    reason,
                    Bytes::from(details.encode_to_vec()),
                    metadata,
                )
            }
        }
    }
}

/// `google.rpc.RetryInfo { retry_delay: seconds }`, encoded.
fn retry_info(seconds: u64) -> Vec<u8> {
    RetryInfo {
        retry_delay: Some(ProtoDuration {
            seconds: i64::try_from(seconds).unwrap_or(i64::MAX),
            nanos: 0,
        }),
    }
    .encode_to_vec()
}

// The few well-known messages a refusal carries (google/rpc/status.proto,
// google/rpc/error_details.proto, google/protobuf/{any,duration}.proto), declared here with
// their field numbers rather than pulling in a crate of every Google type.

#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<ProtoAny>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ProtoAny {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProtoDuration>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_has_its_code_and_message() {
        let s = Status::from(Denied::Unauthenticated("no key".into()));
        assert_eq!((s.code(), s.message()), (Code::Unauthenticated, "no key"));
        let s = Status::from(Denied::PermissionDenied("read key".into()));
        assert_eq!(s.code(), Code::PermissionDenied);
        let s = Status::from(Denied::Invalid("too many".into()));
        assert_eq!(s.code(), Code::InvalidArgument);
    }

    #[test]
    fn exhausted_says_when_to_retry() {
        let s = Status::from(Denied::Exhausted {
            reason: "over http.ingest_rate".into(),
            retry_after: 3,
        });
        assert_eq!(s.code(), Code::ResourceExhausted);
        assert_eq!(s.message(), "over http.ingest_rate");
        let bin = s
            .metadata()
            .get_bin(RETRY_INFO_KEY)
            .unwrap()
            .to_bytes()
            .unwrap();
        let info = RetryInfo::decode(bin).unwrap();
        assert_eq!(
            info.retry_delay,
            Some(ProtoDuration {
                seconds: 3,
                nanos: 0
            })
        );
        // Hand-checked bytes: field 1 (message, 2 bytes) holding field 1 (varint) = 3.
        assert_eq!(retry_info(3), [0x0a, 0x02, 0x08, 0x03]);
        let details = RpcStatus::decode(s.details()).unwrap();
        assert_eq!(details.code, Code::ResourceExhausted as i32);
        assert_eq!(
            details.details[0].type_url,
            "type.googleapis.com/google.rpc.RetryInfo"
        );
        assert_eq!(details.details[0].value, retry_info(3));
    }
}
