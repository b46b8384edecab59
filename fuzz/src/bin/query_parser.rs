//! AFL++ target `query_parser`: its check is `loglynx_fuzz::targets`'s `query_parser`.
fn main() {
    loglynx_fuzz::afl_main("query_parser");
}
