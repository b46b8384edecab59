//! AFL++ target `bulk`: its check is `loglynx_fuzz::targets`'s `bulk`.
fn main() {
    loglynx_fuzz::afl_main("bulk");
}
