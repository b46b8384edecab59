//! AFL++ target `histogram_tail`: its check is `loglynx_fuzz::targets`'s `histogram_tail`.
fn main() {
    loglynx_fuzz::afl_main("histogram_tail");
}
