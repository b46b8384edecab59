//! AFL++ target `spool_recovery`: its check is `loglynx_fuzz::targets`'s `spool_recovery`.
fn main() {
    loglynx_fuzz::afl_main("spool_recovery");
}
