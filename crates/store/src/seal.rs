//! Sealing: a window that is no longer written is merged into one segment with its doc store
//! recompressed at a high zstd level in large blocks.
//!
//! While a window is written its doc store is zstd level 1 in 64 KiB blocks
//! ([`live_settings`]): cheap for the writer, which compresses every block of every segment,
//! and about as small as the zstd level 3 of earlier versions (lz4, used before, cost 38% more
//! bytes until the seal: `docstore_codecs` example, docs/BENCHMARKS.md). Once the window is
//! closed nothing is added to it, so it is rewritten with [`sealed_settings`] (zstd level
//! [`SEALED_ZSTD_LEVEL`], 256 KiB blocks). tantivy's merger copies compressed blocks unchanged
//! when the compressor kind is the same and decompresses and compresses every document again
//! when it differs, so a zstd window is merged twice: into lz4 (fast both ways), then into
//! zstd level 9. Searches go on through the old segments until each merge is committed
//! (tantivy swaps the segment list atomically), then the reader is reloaded.
//!
//! CPU is bounded: one window is sealed at a time (a process-wide lock), by one merge thread.
//! A seal interrupted by a crash or a shutdown leaves the window as it was (the merge's files
//! are not in the segment list and tantivy removes them later); windows found unsealed at start
//! are sealed then (one left between the two merges is lz4: it is merged once). Windows written
//! by earlier versions (zstd level 3 or lz4 doc stores) are sealed the same way.

use std::sync::Mutex;

use tantivy::indexer::{IndexWriterOptions, NoMergePolicy};
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::{IndexSettings, IndexWriter};

use crate::error::StoreError;
use crate::window::Window;

/// Doc store block size while a window is written: a hit decompresses one (cached) block.
const LIVE_BLOCK: usize = 64 << 10;
/// Doc store block size of a sealed window: zstd finds more repeats in larger blocks.
const SEALED_BLOCK: usize = 256 << 10;
/// zstd level of the doc store of a window being written: cheap to compress.
const LIVE_ZSTD_LEVEL: i32 = 1;
/// zstd level of a sealed window's doc store.
pub(crate) const SEALED_ZSTD_LEVEL: i32 = 9;
/// The smallest per-thread memory budget tantivy accepts: the sealing writer indexes nothing.
const SEAL_WRITER_MEMORY: usize = 15_000_000;

/// One seal at a time in the process.
static SEALING: Mutex<()> = Mutex::new(());

/// Index settings of a window being written.
pub(crate) fn live_settings() -> IndexSettings {
    IndexSettings {
        docstore_compression: Compressor::Zstd(ZstdCompressor {
            compression_level: Some(LIVE_ZSTD_LEVEL),
        }),
        docstore_blocksize: LIVE_BLOCK,
        ..IndexSettings::default()
    }
}

/// Index settings of a sealed window.
pub(crate) fn sealed_settings() -> IndexSettings {
    IndexSettings {
        docstore_compression: Compressor::Zstd(ZstdCompressor {
            compression_level: Some(SEALED_ZSTD_LEVEL),
        }),
        docstore_blocksize: SEALED_BLOCK,
        ..IndexSettings::default()
    }
}

/// Whether `w` is sealed: one segment at most, last written with the sealed settings.
pub(crate) fn is_sealed(w: &Window) -> Result<bool, StoreError> {
    let meta = w
        .index
        .load_metas()
        .map_err(|e| StoreError::index(w.id, e))?;
    Ok(meta.segments.len() <= 1 && meta.index_settings == sealed_settings())
}

/// Seals `w` (no-op when it is sealed). The window must not be written: the caller holds no
/// index writer on it. Returns whether a merge ran.
pub(crate) fn seal(w: &Window) -> Result<bool, StoreError> {
    let _one = SEALING.lock().unwrap_or_else(|p| p.into_inner());
    if is_sealed(w)? {
        return Ok(false);
    }
    w.set_sealing(Some(crate::window::dir_size(&w.dir)));
    let done = SealEnd(w);
    let err = |e| StoreError::index(w.id, e);
    let mut index = w.index.clone();
    *index.settings_mut() = sealed_settings();
    let ids = index.searchable_segment_ids().map_err(err)?;
    let zstd_now = matches!(
        index.load_metas().map_err(err)?.index_settings.docstore_compression,
        Compressor::Zstd(_)
    );
    if zstd_now && !ids.is_empty() {
        // tantivy's merger stacks zstd blocks into a zstd store as they are: the blocks are
        // turned into lz4 first (fast both ways), so that the second merge recompresses them.
        let mut lz4 = w.index.clone();
        *lz4.settings_mut() = IndexSettings {
            docstore_compression: Compressor::Lz4,
            ..sealed_settings()
        };
        let mut writer = seal_writer(&lz4).map_err(err)?;
        writer.merge(&ids).wait().map_err(err)?;
        writer.wait_merging_threads().map_err(err)?;
    }
    let ids = index.searchable_segment_ids().map_err(err)?;
    let mut writer = seal_writer(&index).map_err(err)?;
    if ids.is_empty() {
        // Nothing to merge: record the sealed settings so the window is not looked at again.
        let payload = index.load_metas().map_err(err)?.payload;
        let mut prepared = writer.prepare_commit().map_err(err)?;
        if let Some(p) = payload {
            prepared.set_payload(&p);
        }
        prepared.commit().map_err(err)?;
    } else {
        writer.merge(&ids).wait().map_err(err)?;
    }
    writer.wait_merging_threads().map_err(err)?;
    w.refresh(None)?;
    drop(done);
    Ok(true)
}

/// A writer that only merges: one thread, the smallest memory budget, no merge policy.
fn seal_writer(index: &tantivy::Index) -> tantivy::Result<IndexWriter> {
    let options = IndexWriterOptions::builder()
        .num_worker_threads(1)
        .memory_budget_per_thread(SEAL_WRITER_MEMORY)
        .num_merge_threads(1)
        .build();
    let writer: IndexWriter = index.writer_with_options(options)?;
    writer.set_merge_policy(Box::new(NoMergePolicy));
    Ok(writer)
}

/// Clears a window's seal progress however the seal ends.
struct SealEnd<'a>(&'a Window);

impl Drop for SealEnd<'_> {
    fn drop(&mut self) {
        self.0.set_sealing(None);
    }
}
