//! gzip-compressed FITS (`.fits.gz`, or any source starting with the gzip magic bytes). gzip has no random access,
//! so the stream is decompressed once, when the source is opened, into an unnamed spool file (`tempfile`, in
//! `$TMPDIR`; the kernel frees it with the last handle) and read from there by byte range like any local file. The
//! spool is bounded: a stream that inflates beyond [`max_spool_bytes`] is refused with an error naming the file.
//! Cost: one sequential read of the compressed object and one write of the FITS bytes per open (the page cache
//! usually keeps the spool in memory); every later read is a local `pread`.

use std::io::{Read, Write};
use std::sync::Arc;

use super::{ByteSource, FileSource, FitsError};

/// The two bytes every gzip member starts with (RFC 1952).
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Compressed bytes read from the source per request while inflating.
const CHUNK: usize = 8 << 20;

/// The largest decompressed size accepted: `HIPS_GZIP_MAX_BYTES`, else 16 GiB.
#[must_use]
pub fn max_spool_bytes() -> u64 {
    std::env::var("HIPS_GZIP_MAX_BYTES").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(16 << 30)
}

/// `src` itself when it is not gzip-compressed, else a [`FileSource`] over its decompressed bytes (at most `max`).
///
/// # Errors
/// When the source cannot be read, the gzip stream is corrupt or truncated, it inflates beyond `max` bytes, or the
/// spool cannot be written; each names the source.
pub fn gunzip_if_needed(src: Arc<dyn ByteSource>, max: u64) -> Result<Arc<dyn ByteSource>, FitsError> {
    let len = src.len()?;
    if len < 2 || src.read_at(0, 2)? != GZIP_MAGIC {
        return Ok(src);
    }
    let name = src.name().to_string();
    let io = |e: std::io::Error| FitsError::Io { name: name.clone(), source: e };
    let t0 = std::time::Instant::now();
    let mut spool = tempfile::tempfile().map_err(|e| io(std::io::Error::new(e.kind(), format!("gzip spool: {e}"))))?;
    let reader = SourceReader { src: src.as_ref(), pos: 0, len, buf: Vec::new(), at: 0 };
    // MultiGzDecoder: a file may be several concatenated members (as `cat a.gz b.gz` or parallel gzip write it).
    let mut inflate = flate2::read::MultiGzDecoder::new(reader).take(max.saturating_add(1));
    let written = std::io::copy(&mut inflate, &mut spool).map_err(|e| FitsError::NotFits {
        name: name.clone(),
        reason: format!("gzip stream cannot be decompressed: {e}"),
    })?;
    if written > max {
        return Err(FitsError::NotFits {
            name,
            reason: format!("gzip stream inflates beyond {max} bytes (HIPS_GZIP_MAX_BYTES)"),
        });
    }
    spool.flush().map_err(io)?;
    tracing::info!(
        "{name}: gzip, {len} bytes decompressed to {written} in a spool file ({:.2} s)",
        t0.elapsed().as_secs_f64()
    );
    Ok(Arc::new(FileSource::from_file(name, spool)?))
}

/// A `Read` over a byte source, fetching `CHUNK` bytes per `read_at`.
struct SourceReader<'a> {
    src: &'a dyn ByteSource,
    pos: u64,
    len: u64,
    buf: Vec<u8>,
    at: usize,
}

impl Read for SourceReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.buf.len() {
            if self.pos >= self.len {
                return Ok(0);
            }
            let n = usize::try_from(self.len - self.pos).unwrap_or(usize::MAX).min(CHUNK);
            self.buf = self.src.read_at(self.pos, n).map_err(std::io::Error::other)?;
            self.pos += n as u64;
            self.at = 0;
        }
        let n = out.len().min(self.buf.len() - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fits::MemSource;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).expect("compress");
        e.finish().expect("finish")
    }

    #[test]
    fn plain_sources_pass_through_and_gzip_is_inflated() {
        let data: Vec<u8> = (0..50_000u32).flat_map(u32::to_le_bytes).collect();
        let plain: Arc<dyn ByteSource> = Arc::new(MemSource::new("a.fits", data.clone()));
        let same = gunzip_if_needed(plain.clone(), 1 << 30).expect("plain");
        assert!(Arc::ptr_eq(&plain, &same));
        let two = [gz(&data[..1000]), gz(&data[1000..])].concat();
        let src = gunzip_if_needed(Arc::new(MemSource::new("a.fits.gz", two)), 1 << 30).expect("gzip");
        assert_eq!(src.len().expect("len"), data.len() as u64);
        assert_eq!(src.read_at(999, 10).expect("read"), data[999..1009]);
        assert_eq!(src.name(), "a.fits.gz");
    }

    #[test]
    fn bombs_and_broken_streams_are_clear_errors() {
        let zeros = gz(&vec![0u8; 1 << 20]);
        let e = gunzip_if_needed(Arc::new(MemSource::new("bomb.fits.gz", zeros)), 1000).expect_err("bounded");
        assert!(e.to_string().contains("bomb.fits.gz") && e.to_string().contains("inflates beyond 1000"), "{e}");
        let mut cut = gz(&vec![7u8; 100_000]);
        cut.truncate(cut.len() / 2);
        let e = gunzip_if_needed(Arc::new(MemSource::new("cut.fits.gz", cut)), 1 << 30).expect_err("truncated");
        assert!(e.to_string().contains("cut.fits.gz") && e.to_string().contains("gzip"), "{e}");
    }
}
