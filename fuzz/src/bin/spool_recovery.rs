//! Spool recovery: a data directory whose segment files hold any bytes opens, and reading it
//! to the end hands out whole batches or skips damage, never a panic or an endless loop.
use loglynx_bus::kafka::Spool;
use loglynx_fuzz::Input;

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    afl::fuzz!(|data: &[u8]| {
        let root = dir.path().join("spool");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let mut inp = Input(data);
        let cursor = inp.bytes(40).to_vec();
        let split = inp.u64() as usize;
        let rest = inp.rest();
        let (a, b) = rest.split_at(split % (rest.len() + 1));
        std::fs::write(root.join("00000000000000000001.spool"), a).unwrap();
        if !b.is_empty() {
            std::fs::write(root.join("00000000000000000002.spool"), b).unwrap();
        }
        if !cursor.is_empty() {
            std::fs::write(root.join("cursor"), cursor).unwrap();
        }
        let Ok(mut spool) = Spool::open(&root, 64 << 20) else { return };
        // Each read hands out a frame or ends: at most one frame per 12 bytes of input.
        for _ in 0..=(data.len() / 12 + 2) {
            match spool.read_next() {
                Ok(Some((id, _batch))) => {
                    if spool.delivered(id).is_err() {
                        return;
                    }
                }
                Ok(None) | Err(_) => return,
            }
        }
        panic!("read_next handed out more frames than the files can hold");
    });
}
