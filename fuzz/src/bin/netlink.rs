//! AFL++ target `netlink`: its check is `loglynx_fuzz::targets`'s `netlink`.
fn main() {
    loglynx_fuzz::afl_main("netlink");
}
