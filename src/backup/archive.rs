//! The backup file: a tar archive (optionally zstd-compressed) with `manifest.json` first and
//! `SHA256SUMS` last (the format `sha256sum -c` reads), so a truncated file is told apart from
//! a complete one and every entry's bytes are checked. Blocking I/O: run it off the async threads.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use sha2::{Digest, Sha256};

use super::manifest::{MANIFEST, Manifest, ROOT, SUMS};
use super::signature::{SIGNATURE, SigningKey};

/// zstd's frame magic: how a compressed backup is recognised whatever its name.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// Manifest and sums are read whole; these bound what a damaged file can make us allocate.
const MAX_MANIFEST: u64 = 256 << 20;

/// zstd's fastest level: bundles are packs, compressed already; the database dump and
/// manifest still shrink several times.
const LEVEL: i32 = 1;

/// Where a backup's bytes go.
pub enum Sink {
    Plain(BufWriter<File>),
    Zstd(zstd::Encoder<'static, BufWriter<File>>),
    StdoutZstd(zstd::Encoder<'static, std::io::Stdout>),
}

impl Sink {
    /// A file created new with mode 0600: a backup holds password hashes and keys.
    pub fn create(path: &Path, compress: bool) -> anyhow::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?;
        let out = BufWriter::with_capacity(1 << 20, file);
        Ok(if compress {
            Sink::Zstd(zstd::Encoder::new(out, LEVEL)?)
        } else {
            Sink::Plain(out)
        })
    }

    pub fn stdout() -> anyhow::Result<Self> {
        Ok(Sink::StdoutZstd(zstd::Encoder::new(
            std::io::stdout(),
            LEVEL,
        )?))
    }

    fn finish(self) -> anyhow::Result<()> {
        let file = match self {
            Sink::Plain(w) => w,
            Sink::Zstd(z) => z.finish()?,
            Sink::StdoutZstd(z) => {
                z.finish()?.flush()?;
                return Ok(());
            }
        };
        let file = file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(())
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Zstd(w) => w.write(buf),
            Sink::StdoutZstd(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Zstd(w) => w.flush(),
            Sink::StdoutZstd(w) => w.flush(),
        }
    }
}

pub struct ArchiveWriter {
    tar: tar::Builder<Sink>,
    sums: Vec<(String, String)>,
    mtime: u64,
}

/// Hashes what passes through it.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
    bytes: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

impl<R> Hashing<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            hash: Sha256::new(),
            bytes: 0,
        }
    }
    fn hex(&self) -> String {
        crate::domain::hex(&self.hash.clone().finalize())
    }
}

impl ArchiveWriter {
    pub fn new(sink: Sink) -> Self {
        let mtime = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self {
            tar: tar::Builder::new(sink),
            sums: Vec::new(),
            mtime,
        }
    }

    /// Appends `path`, whose SHA-256 `sum` was computed as it was written (a bundle), without
    /// hashing it again.
    pub fn append_hashed_file(
        &mut self,
        name: &str,
        path: &Path,
        sum: String,
    ) -> anyhow::Result<()> {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let size = file.metadata()?.len();
        let mut header = self.header(size);
        let mut data = BufReader::with_capacity(1 << 20, file);
        self.tar
            .append_data(&mut header, format!("{ROOT}/{name}"), &mut data)
            .with_context(|| format!("writing {name} into the backup"))?;
        self.sums.push((name.to_owned(), sum));
        Ok(())
    }

    fn header(&self, size: u64) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(0o600);
        header.set_mtime(self.mtime);
        header.set_entry_type(tar::EntryType::Regular);
        header
    }

    fn append(&mut self, name: &str, size: u64, data: impl Read) -> anyhow::Result<()> {
        let mut header = self.header(size);
        let mut data = Hashing::new(data);
        self.tar
            .append_data(&mut header, format!("{ROOT}/{name}"), &mut data)
            .with_context(|| format!("writing {name} into the backup"))?;
        ensure!(
            data.bytes == size,
            "{name} changed size while it was written"
        );
        self.sums.push((name.to_owned(), data.hex()));
        Ok(())
    }

    pub fn append_bytes(&mut self, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        self.append(name, bytes.len() as u64, bytes)
    }

    pub fn append_file(&mut self, name: &str, path: &Path) -> anyhow::Result<()> {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let size = file.metadata()?.len();
        self.append(name, size, BufReader::with_capacity(1 << 20, file))
    }

    /// Writes `SHA256SUMS` (and, with a key, its signature after it) and closes the archive
    /// (flushed and synced to disk).
    pub fn finish(mut self, sign: Option<&SigningKey>) -> anyhow::Result<()> {
        let mut sums = String::new();
        for (name, hex) in &self.sums {
            sums.push_str(&format!("{hex}  {name}\n"));
        }
        self.append_bytes(SUMS, sums.as_bytes())?;
        if let Some(key) = sign {
            let signature = key.sign(sums.as_bytes())?;
            self.append_bytes(SIGNATURE, &signature)?;
        }
        self.tar.into_inner()?.finish()
    }
}

/// Opens `path` (or stdin for `-`), compressed or not.
pub fn open_source(path: &Path) -> anyhow::Result<Box<dyn Read + Send>> {
    let raw: Box<dyn Read + Send> = if path == Path::new("-") {
        Box::new(std::io::stdin())
    } else {
        Box::new(File::open(path).with_context(|| format!("opening {}", path.display()))?)
    };
    let mut buffered = BufReader::with_capacity(1 << 20, raw);
    let head = buffered.fill_buf()?;
    if head.starts_with(&ZSTD_MAGIC) {
        Ok(Box::new(zstd::Decoder::with_buffer(buffered)?))
    } else {
        Ok(Box::new(buffered))
    }
}

/// What a backup's reading found: its manifest, the `SHA256SUMS` every entry matched, and the
/// signature after it, if the backup is signed (checked by the caller against its keys).
pub struct Extracted {
    pub manifest: Manifest,
    pub sums: Vec<u8>,
    pub signature: Option<Vec<u8>>,
}

/// Reads a whole backup into `staging`, checking as it goes: the manifest first (handed to
/// `accept` before anything else is read, so a backup from a newer schema is refused at once),
/// then only the files the manifest lists, each once, then `SHA256SUMS`, which must match every
/// entry, then its signature if there is one. Files land at `staging/NAME` (names from the
/// checked manifest, never from the tar); without `staging` they are hashed and dropped.
pub fn extract(
    source: impl Read,
    staging: Option<&Path>,
    accept: impl FnOnce(&Manifest) -> anyhow::Result<()>,
) -> anyhow::Result<Extracted> {
    let mut archive = tar::Archive::new(source);
    let damaged = |e: std::io::Error| anyhow::anyhow!("the backup is damaged or truncated: {e}");
    let mut entries = archive.entries().map_err(damaged)?;
    let mut manifest_entry = match entries.next() {
        Some(e) => e.map_err(damaged)?,
        None => bail!("the backup is empty (not a labforge backup?)"),
    };
    ensure!(
        entry_name(&manifest_entry)? == MANIFEST,
        "not a labforge backup: its first entry is not {ROOT}/{MANIFEST}"
    );
    let (text, manifest_sum) = read_small(&mut manifest_entry, MANIFEST)?;
    drop(manifest_entry);
    let manifest: Manifest =
        serde_json::from_slice(&text).context("the backup's manifest.json is not valid")?;
    manifest.check()?;
    accept(&manifest)?;
    let expected: HashSet<String> = manifest.expected_files().into_iter().collect();
    let mut computed = BTreeMap::from([(MANIFEST.to_owned(), manifest_sum)]);
    let mut last = MANIFEST.to_owned();
    while let Some(entry) = entries.next() {
        let mut entry = entry.map_err(damaged)?;
        let name = entry_name(&entry)?;
        if name == SUMS {
            let (sums, _) = read_small(&mut entry, SUMS)?;
            check_sums(&sums, &computed, &expected)?;
            drop(entry);
            let signature = match entries.next() {
                None => None,
                Some(entry) => {
                    let mut entry = entry.map_err(damaged)?;
                    let name = entry_name(&entry)?;
                    ensure!(
                        name == SIGNATURE,
                        "the backup holds {name} after {SUMS}, where only {SIGNATURE} may be"
                    );
                    Some(read_small(&mut entry, SIGNATURE)?.0)
                }
            };
            return Ok(Extracted {
                manifest,
                sums,
                signature,
            });
        }
        ensure!(
            expected.contains(&name),
            "the backup holds {name}, which its manifest does not list"
        );
        ensure!(
            !computed.contains_key(&name),
            "the backup holds {name} twice"
        );
        let mut reading = Hashing::new(&mut entry);
        let truncated = |e: std::io::Error| {
            anyhow::anyhow!("the backup is damaged or truncated in {name}: {e}")
        };
        match staging {
            Some(staging) => {
                let dest = staging.join(&name);
                std::fs::create_dir_all(dest.parent().expect("staging names have a folder"))?;
                let mut out = BufWriter::new(File::create(&dest)?);
                std::io::copy(&mut reading, &mut out).map_err(truncated)?;
                out.flush()?;
            }
            None => {
                std::io::copy(&mut reading, &mut std::io::sink()).map_err(truncated)?;
            }
        }
        computed.insert(name.clone(), reading.hex());
        last = name;
    }
    bail!("the backup is truncated: it ends after {last}, without its {SUMS}")
}

/// The entry's name under the backup's folder; anything else (links, other folders) is refused.
fn entry_name<R: Read>(entry: &tar::Entry<'_, R>) -> anyhow::Result<String> {
    let path = entry.path()?.to_string_lossy().into_owned();
    ensure!(
        entry.header().entry_type() == tar::EntryType::Regular,
        "the backup holds {path}, which is not a plain file"
    );
    path.strip_prefix(&format!("{ROOT}/"))
        .map(str::to_owned)
        .with_context(|| format!("the backup holds {path}, outside {ROOT}/"))
}

fn read_small(entry: &mut impl Read, name: &str) -> anyhow::Result<(Vec<u8>, String)> {
    let mut reading = Hashing::new(entry.take(MAX_MANIFEST));
    let mut text = Vec::new();
    reading
        .read_to_end(&mut text)
        .map_err(|e| anyhow::anyhow!("the backup is damaged or truncated in {name}: {e}"))?;
    Ok((text, reading.hex()))
}

fn check_sums(
    sums: &[u8],
    computed: &BTreeMap<String, String>,
    expected: &HashSet<String>,
) -> anyhow::Result<()> {
    let text = std::str::from_utf8(sums).context("SHA256SUMS is not text")?;
    let mut listed = BTreeMap::new();
    for line in text.lines() {
        let Some((hex, name)) = line.split_once("  ") else {
            bail!("SHA256SUMS has an unreadable line {line:?}");
        };
        listed.insert(name.to_owned(), hex.to_owned());
    }
    for name in expected {
        ensure!(
            computed.contains_key(name),
            "the backup is missing {name}, which its manifest lists"
        );
    }
    for (name, hex) in computed {
        match listed.get(name) {
            Some(h) if h == hex => {}
            Some(_) => bail!(
                "{name} does not match its checksum in SHA256SUMS: the backup was changed or damaged"
            ),
            None => bail!("SHA256SUMS does not list {name}"),
        }
    }
    ensure!(
        listed.len() == computed.len(),
        "SHA256SUMS lists files the backup does not hold"
    );
    Ok(())
}

/// A staging folder's path for one archive name.
pub fn staged(staging: &Path, name: &str) -> PathBuf {
    staging.join(name)
}
