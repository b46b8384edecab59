//! Syslog TCP framing (RFC 6587): any byte stream, cut into any chunks, gives the same frames
//! as in one piece, each at most `max_frame` bytes.
use loglynx_collect::syslog::framing::FrameDecoder;
use loglynx_fuzz::Input;

fn frames(chunks: &[&[u8]], max_frame: usize) -> Vec<(Vec<u8>, bool)> {
    let mut d = FrameDecoder::new(max_frame, "fuzz".into());
    let mut out = Vec::new();
    for c in chunks {
        d.decode(c, &mut out);
    }
    out.extend(d.finish());
    out.into_iter().map(|f| (f.body, f.truncated)).collect()
}

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let mut inp = Input(data);
        let max_frame = 1 + inp.u8() as usize;
        let cut = inp.u8() as usize;
        let stream = inp.rest();
        let whole = frames(&[stream], max_frame);
        for (body, _) in &whole {
            assert!(body.len() <= max_frame, "a frame of {} bytes over max_frame {max_frame}", body.len());
        }
        let cut = cut.min(stream.len());
        let (a, b) = stream.split_at(cut);
        assert_eq!(frames(&[a, b], max_frame), whole, "chunking changed the frames");
        let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(frames(&bytewise, max_frame), whole, "byte-at-a-time changed the frames");
    });
}
