//! AFL++ target `parse_record`: its check is `loglynx_fuzz::targets`'s `parse_record`.
fn main() {
    loglynx_fuzz::afl_main("parse_record");
}
