//! The Kafka record codec: any record encodes to the bytes serde_json gives and decodes back
//! to itself; any message value decodes (to the record serde reads, or kept whole as
//! undecodable), never a panic.
use loglynx_bus::kafka::{decode_record, encode_record};
use loglynx_core::RawRecord;
use loglynx_fuzz::{record, Input};

fn main() {
    afl::fuzz!(|data: &[u8]| {
        // Any value: never a panic; when serde reads a record, the codec reads the same one.
        let got = decode_record(Some(data), "t", 0, 1);
        if let Ok(want) = serde_json::from_slice::<RawRecord>(data) {
            if got.source.as_ref() == want.source.as_ref() {
                assert_eq!(got.body, want.body);
                assert_eq!(got.id, want.id);
                assert_eq!(got.host, want.host);
            }
        }
        // Round trip of a record built from the input, against serde_json.
        let r = record(&mut Input(data));
        let bytes = encode_record(&r);
        assert_eq!(bytes, serde_json::to_vec(&r).unwrap(), "the encoder's bytes differ from serde_json's");
        let back = decode_record(Some(&bytes), "t", 0, 1);
        assert_eq!(back.body, r.body);
        assert_eq!(back.truncated, r.truncated);
        assert_eq!(back.source, r.source);
        assert_eq!(back.host, r.host);
        assert_eq!(back.received, r.received);
        assert_eq!(back.id, r.id);
    });
}
