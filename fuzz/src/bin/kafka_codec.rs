//! AFL++ target `kafka_codec`: its check is `loglynx_fuzz::targets`'s `kafka_codec`.
fn main() {
    loglynx_fuzz::afl_main("kafka_codec");
}
