//! Tests of the whole spool (files on disk, reopen after crashes).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use super::frame::{encode_frame, seal, FRAME_HEAD, HEADER, MAGIC};
use super::segments::seg_name;
use super::{FrameId, Spool, SpoolBatch};

pub(super) fn batch(i: u64) -> SpoolBatch {
    SpoolBatch {
        records: vec![
            ("h|file:a".to_string(), format!("line {i} a").into_bytes()),
            ("h|file:b".to_string(), vec![0xff, i as u8, 0]),
        ],
        positions: vec![("file:a".into(), i * 10)],
    }
}

fn segment_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".spool")
        })
        .count()
}

fn read_all(s: &mut Spool) -> Vec<(FrameId, SpoolBatch)> {
    let mut out = Vec::new();
    while let Some(f) = s.read_next().unwrap() {
        out.push(f);
    }
    out
}

#[test]
fn frames_come_back_in_write_order_across_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), 1 << 20)
        .unwrap()
        .with_segment_bytes(100);
    s.append(&[batch(0), batch(1)]).unwrap();
    s.append(&[SpoolBatch::default(), batch(2)]).unwrap();
    assert_eq!(s.records(), 6);
    let got = read_all(&mut s);
    assert_eq!(
        got.iter().map(|(_, b)| b.clone()).collect::<Vec<_>>(),
        vec![batch(0), batch(1), batch(2)]
    );
    assert_eq!(segment_files(tmp.path()), 3);
    assert_eq!(
        s.bytes(),
        std::fs::read_dir(tmp.path())
            .unwrap()
            .filter_map(|e| {
                let e = e.unwrap();
                e.file_name()
                    .to_string_lossy()
                    .ends_with(".spool")
                    .then(|| e.metadata().unwrap().len())
            })
            .sum::<u64>()
    );
    s.append(&[batch(3)]).unwrap();
    let more = read_all(&mut s);
    assert_eq!(more.len(), 1);
    assert_eq!(more[0].1, batch(3));
}

#[test]
fn delivered_segments_are_deleted_and_an_empty_spool_leaves_no_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), 1 << 20)
        .unwrap()
        .with_segment_bytes(100);
    s.append(&[batch(0), batch(1), batch(2)]).unwrap();
    let frames = read_all(&mut s);
    assert_eq!(segment_files(tmp.path()), 3);
    s.delivered(frames[0].0).unwrap();
    assert_eq!(segment_files(tmp.path()), 2);
    assert_eq!(s.records(), 4);
    s.delivered(frames[1].0).unwrap();
    assert_eq!(segment_files(tmp.path()), 1);
    s.delivered(frames[2].0).unwrap();
    assert_eq!(segment_files(tmp.path()), 0);
    assert!(s.is_empty());
    assert_eq!(s.bytes(), 0);
    // Reopening an empty spool finds nothing to send; new frames are numbered after the old.
    drop(s);
    let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
    assert_eq!((s.records(), s.bytes()), (0, 0));
    assert!(s.read_next().unwrap().is_none());
    s.append(&[batch(7)]).unwrap();
    assert!(tmp.path().join(seg_name(3)).exists());
    assert_eq!(read_all(&mut s)[0].1, batch(7));
}

#[test]
fn a_reopen_resumes_at_the_cursor_and_truncates_a_torn_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
    s.append(&[batch(0), batch(1), batch(2), batch(3)]).unwrap();
    let frames = read_all(&mut s);
    s.delivered(frames[0].0).unwrap();
    s.delivered(frames[1].0).unwrap();
    drop(s); // writes the cursor
             // A crash in the middle of the next write: half a frame at the end.
    let seg = tmp.path().join(seg_name(0));
    let good_len = std::fs::metadata(&seg).unwrap().len();
    let mut torn = Vec::new();
    encode_frame(&batch(4), &mut torn);
    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(&torn[..torn.len() / 2]).unwrap();
    drop(f);

    let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), good_len);
    assert_eq!(s.records(), 4);
    let rest: Vec<_> = read_all(&mut s).into_iter().map(|(_, b)| b).collect();
    assert_eq!(rest, vec![batch(2), batch(3)]);
    s.append(&[batch(5)]).unwrap();
    assert_eq!(read_all(&mut s)[0].1, batch(5));
}

#[test]
fn a_corrupt_last_frame_is_dropped_on_open() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
    s.append(&[batch(0), batch(1)]).unwrap();
    drop(s);
    let seg = tmp.path().join(seg_name(0));
    let mut bytes = std::fs::read(&seg).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0x55;
    std::fs::write(&seg, &bytes).unwrap();
    let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
    assert_eq!(s.records(), 2);
    let rest: Vec<_> = read_all(&mut s).into_iter().map(|(_, b)| b).collect();
    assert_eq!(rest, vec![batch(0)]);
}

#[test]
fn a_full_spool_refuses_until_frames_are_delivered() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), 300)
        .unwrap()
        .with_segment_bytes(100);
    let mut appended = 0;
    while !s.is_full() {
        s.append(&[batch(appended)]).unwrap();
        appended += 1;
    }
    assert!(appended >= 3, "{appended}");
    let e = s.append(&[batch(99)]).unwrap_err().to_string();
    assert!(e.contains("full") && e.contains("kafka.spool_size"), "{e}");
    let frames = read_all(&mut s);
    assert_eq!(frames.len() as u64, appended);
    s.delivered(frames[0].0).unwrap();
    assert!(!s.is_full());
    s.append(&[batch(99)]).unwrap();
}

#[test]
fn an_unusable_directory_is_named_in_the_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let e = Spool::open(&file.join("spool"), 1 << 20)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not-a-dir/spool") && e.contains("--data-dir"),
        "{e}"
    );
    std::fs::create_dir_all(tmp.path().join("s")).unwrap();
    std::fs::write(
        tmp.path().join("s").join(seg_name(0)),
        b"something else entirely",
    )
    .unwrap();
    let e = Spool::open(&tmp.path().join("s"), 1 << 20)
        .unwrap_err()
        .to_string();
    assert!(e.contains("bad header") && e.contains("move it"), "{e}");
}

fn file_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            e.file_name()
                .to_string_lossy()
                .ends_with(".spool")
                .then(|| e.metadata().unwrap().len())
        })
        .sum()
}

#[test]
fn a_failed_write_is_undone_and_can_be_done_again() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
    s.append(&[batch(0)]).unwrap();
    // The second frame of the next write fails half-written (same segment).
    s.fail_frame = Some(s.frames_written + 2);
    let e = s.append(&[batch(1), batch(2)]).unwrap_err().to_string();
    assert!(e.contains("free disk space"), "{e}");
    assert_eq!((s.records(), s.bytes()), (2, file_bytes(tmp.path())));
    s.append(&[batch(1), batch(2)]).unwrap();
    let got: Vec<_> = read_all(&mut s).into_iter().map(|(_, b)| b).collect();
    assert_eq!(got, vec![batch(0), batch(1), batch(2)]);
    drop(s);
    let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
    assert_eq!(s.records(), 6);
    let got: Vec<_> = read_all(&mut s).into_iter().map(|(_, b)| b).collect();
    assert_eq!(got, vec![batch(0), batch(1), batch(2)]);

    // Across segments: the segments the failed write created are deleted.
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), 1 << 20)
        .unwrap()
        .with_segment_bytes(100);
    s.append(&[batch(0)]).unwrap();
    s.fail_frame = Some(s.frames_written + 3);
    assert!(s.append(&[batch(1), batch(2), batch(3)]).is_err());
    assert_eq!(segment_files(tmp.path()), 1);
    assert_eq!((s.records(), s.bytes()), (2, file_bytes(tmp.path())));
    s.append(&[batch(1)]).unwrap();
    let got: Vec<_> = read_all(&mut s).into_iter().map(|(_, b)| b).collect();
    assert_eq!(got, vec![batch(0), batch(1)]);
}

#[test]
fn a_zeroed_header_of_the_last_segment_is_rewritten() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), 1 << 20)
        .unwrap()
        .with_segment_bytes(100);
    s.append(&[batch(0), batch(1)]).unwrap();
    drop(s);
    // Power loss: the last segment's blocks read as zeros.
    let last = tmp.path().join(seg_name(1));
    let n = std::fs::metadata(&last).unwrap().len() as usize;
    std::fs::write(&last, vec![0u8; n]).unwrap();
    let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
    assert_eq!(s.records(), 2);
    assert_eq!(std::fs::metadata(&last).unwrap().len(), HEADER);
    s.append(&[batch(2)]).unwrap();
    let got: Vec<_> = read_all(&mut s).into_iter().map(|(_, b)| b).collect();
    assert_eq!(got, vec![batch(0), batch(2)]);
}

#[test]
fn an_undecodable_frame_is_skipped_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
    s.append(&[batch(0)]).unwrap();
    drop(s);
    // A frame with a valid checksum around a payload that does not decode (3 records).
    let payload = [
        3u8, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
    ];
    let mut frame = vec![0u8; FRAME_HEAD as usize];
    frame.extend_from_slice(&payload);
    seal(&mut frame);
    let seg = tmp.path().join(seg_name(0));
    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(&frame).unwrap();
    drop(f);
    let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
    assert_eq!(s.records(), 5);
    s.append(&[batch(1)]).unwrap();
    let frames = read_all(&mut s);
    let got: Vec<_> = frames.iter().map(|(_, b)| b.clone()).collect();
    assert_eq!(got, vec![batch(0), SpoolBatch::default(), batch(1)]);
    assert_eq!(s.skipped_frames(), 1);
    for (id, _) in frames {
        s.delivered(id).unwrap();
    }
    assert!(s.is_empty());
    assert_eq!(segment_files(tmp.path()), 0);
}

#[test]
fn a_batch_larger_than_a_frame_is_split_with_its_positions_last() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), 1 << 20).unwrap().with_max_frame(60);
    let big = SpoolBatch {
        records: (0..3)
            .map(|i| (format!("k{i}"), vec![i as u8; 20]))
            .collect(),
        positions: vec![("file:a".into(), 7)],
    };
    s.append(std::slice::from_ref(&big)).unwrap();
    let got: Vec<_> = read_all(&mut s).into_iter().map(|(_, b)| b).collect();
    assert_eq!(got.len(), 3);
    assert!(got[..2].iter().all(|b| b.positions.is_empty()));
    assert_eq!(got[2].positions, big.positions);
    let records: Vec<_> = got.into_iter().flat_map(|b| b.records).collect();
    assert_eq!(records, big.records);
}

/// The offsets of the frames of a (version 2) segment file.
fn frame_offsets(seg: &Path) -> Vec<u64> {
    let bytes = std::fs::read(seg).unwrap();
    let mut offs = Vec::new();
    let mut off = HEADER as usize;
    while off < bytes.len() {
        offs.push(off as u64);
        let n = u32::from_le_bytes(bytes[off + 4..off + 8].try_into().unwrap()) as usize;
        off += FRAME_HEAD as usize + n;
    }
    offs
}

fn flip_bytes(path: &Path, at: u64, n: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    for b in &mut bytes[at as usize..at as usize + n] {
        *b ^= 0xA5;
    }
    std::fs::write(path, &bytes).unwrap();
}

/// Issue 11: a checksum failure truncated the rest of its segment (up to 64 MiB of
/// acknowledged records).
#[test]
fn regression_issue_11_damaged_frames_in_the_middle_are_skipped_and_the_rest_delivered() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
    s.append(&(0..10).map(batch).collect::<Vec<_>>()).unwrap();
    s.append(&(10..20).map(batch).collect::<Vec<_>>()).unwrap();
    drop(s);
    let seg = tmp.path().join(seg_name(0));
    let offs = frame_offsets(&seg);
    assert_eq!(offs.len(), 20);
    let len = std::fs::metadata(&seg).unwrap().len();
    // Payload bytes of frame 3; the length field of frame 7 and the payload of frame 8 (one
    // damaged stretch of two frames); the checksum of frame 15.
    flip_bytes(&seg, offs[3] + FRAME_HEAD + 5, 3);
    flip_bytes(&seg, offs[7] + 5, 2);
    flip_bytes(&seg, offs[8] + FRAME_HEAD + 1, 1);
    flip_bytes(&seg, offs[15] + 9, 1);

    let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), len, "nothing truncated");
    let frames = read_all(&mut s);
    let got: Vec<_> = frames.iter().map(|(_, b)| b.clone()).collect();
    let want: Vec<_> = (0..20).filter(|i| ![3, 7, 8, 15].contains(i)).map(batch).collect();
    assert_eq!(got, want, "every frame after the damage is delivered, in order");
    assert_eq!(s.records(), 2 * 16);
    assert_eq!(s.lost_frames(), 4);
    let lost = (offs[4] - offs[3]) + (offs[9] - offs[7]) + (offs[16] - offs[15]);
    assert_eq!(s.lost_bytes(), lost);
    for (id, _) in frames {
        s.delivered(id).unwrap();
    }
    assert!(s.is_empty());
    assert_eq!(segment_files(tmp.path()), 0);
}

#[test]
fn damage_in_an_older_segment_skips_to_its_next_good_frame_or_its_end() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), 1 << 20).unwrap().with_segment_bytes(400);
    for i in 0..12 {
        s.append(&[batch(i)]).unwrap();
    }
    drop(s);
    assert!(segment_files(tmp.path()) >= 3);
    // The first segment: its first frame damaged; the second: its last frame damaged (no good
    // frame follows in it, yet the next segment is read).
    let first = frame_offsets(&tmp.path().join(seg_name(0)));
    let second = frame_offsets(&tmp.path().join(seg_name(1)));
    flip_bytes(&tmp.path().join(seg_name(0)), first[0] + FRAME_HEAD + 1, 1);
    flip_bytes(&tmp.path().join(seg_name(1)), *second.last().unwrap() + FRAME_HEAD, 1);
    let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
    let got: Vec<_> = read_all(&mut s).into_iter().map(|(_, b)| b).collect();
    let lost_second = first.len() as u64 + second.len() as u64 - 1;
    let want: Vec<_> = (1..12).filter(|&i| i != lost_second).map(batch).collect();
    assert_eq!(got, want);
    assert_eq!(s.lost_frames(), 2);
}

#[test]
fn damage_after_open_is_skipped_while_reading() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
    s.append(&(0..5).map(batch).collect::<Vec<_>>()).unwrap();
    let seg = tmp.path().join(seg_name(0));
    let offs = frame_offsets(&seg);
    flip_bytes(&seg, offs[2] + FRAME_HEAD + 2, 1);
    let frames = read_all(&mut s);
    let got: Vec<_> = frames.iter().map(|(_, b)| b.clone()).collect();
    assert_eq!(got, vec![batch(0), batch(1), batch(3), batch(4)]);
    assert_eq!((s.lost_frames(), s.lost_bytes()), (1, offs[3] - offs[2]));
    // The lost frame's records are not waited for: the spool empties.
    assert_eq!(s.records(), 8);
    for (id, _) in frames {
        s.delivered(id).unwrap();
    }
    assert!(s.is_empty());
    assert_eq!(segment_files(tmp.path()), 0);
}

#[test]
fn damage_found_while_frames_are_in_flight_keeps_their_count() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
    s.append(&(0..6).map(batch).collect::<Vec<_>>()).unwrap();
    let first = s.read_next().unwrap().unwrap();
    let seg = tmp.path().join(seg_name(0));
    let offs = frame_offsets(&seg);
    flip_bytes(&seg, offs[2] + FRAME_HEAD + 2, 1);
    let second = s.read_next().unwrap().unwrap();
    let rest = read_all(&mut s);
    assert_eq!(rest.iter().map(|(_, b)| b.clone()).collect::<Vec<_>>(), vec![batch(3), batch(4), batch(5)]);
    // Frames 0, 1 (in flight) and 3..5: 5 frames of 2 records.
    assert_eq!(s.records(), 10);
    for (id, _) in [first, second].into_iter().chain(rest) {
        assert!(!s.is_empty());
        s.delivered(id).unwrap();
    }
    assert!(s.is_empty());
}

/// A version 1 segment as the first release wrote it: frames of length + CRC32, no marker.
fn write_v1_segment(path: &Path, batches: &[SpoolBatch]) {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&1u32.to_le_bytes());
    for b in batches {
        let mut f = Vec::new();
        encode_frame(b, &mut f);
        let payload = &f[FRAME_HEAD as usize..];
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        out.extend_from_slice(payload);
    }
    std::fs::write(path, out).unwrap();
}

#[test]
fn a_spool_of_the_first_format_is_still_read_and_new_frames_go_to_a_new_segment() {
    let tmp = tempfile::tempdir().unwrap();
    write_v1_segment(&tmp.path().join(seg_name(0)), &[batch(0), batch(1)]);
    let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
    assert_eq!(s.records(), 4);
    s.append(&[batch(2)]).unwrap();
    assert!(tmp.path().join(seg_name(1)).exists(), "a version 2 segment for new frames");
    let frames = read_all(&mut s);
    let got: Vec<_> = frames.iter().map(|(_, b)| b.clone()).collect();
    assert_eq!(got, vec![batch(0), batch(1), batch(2)]);
    for (id, _) in frames {
        s.delivered(id).unwrap();
    }
    assert_eq!(segment_files(tmp.path()), 0);
}

#[test]
fn a_segment_of_a_newer_format_is_refused_with_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&3u32.to_le_bytes());
    std::fs::write(tmp.path().join(seg_name(0)), out).unwrap();
    let e = Spool::open(tmp.path(), 1 << 20).unwrap_err().to_string();
    assert!(e.contains("newer loglynx (spool format 3)"), "{e}");
    assert!(e.contains(&seg_name(0)), "{e}");
}
