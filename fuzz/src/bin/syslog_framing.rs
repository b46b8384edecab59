//! AFL++ target `syslog_framing`: its check is `loglynx_fuzz::targets`'s `syslog_framing`.
fn main() {
    loglynx_fuzz::afl_main("syslog_framing");
}
