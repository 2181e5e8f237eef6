//! Tesseract 5, two ways: through its library (the `tesseract` crate; the
//! model is loaded once per engine and reused) or through its command line
//! (a process per page, the model loaded each time). Both give the same
//! TSV (words with boxes and confidences), read by [`Page::from_tsv`].
//! The library is the default: on the SROIE dev receipts it was 0.13 s a
//! page faster (the model load), and nothing is written to disk; the CLI
//! stays for comparison (`arus ocr eval --engine cli`) and for machines
//! whose Tesseract is not the one we link against.
//!
//! Tesseract's own OpenMP threads are limited to one (`OMP_THREAD_LIMIT`,
//! set by [`limit_threads`], which `arus`'s `main` calls before any other
//! thread exists): arus runs several engines side by side instead, one per
//! worker.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use image::GrayImage;

use super::Page;

/// Which way to run Tesseract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineKind {
    #[default]
    Library,
    Cli,
}

impl std::str::FromStr for EngineKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "lib" | "library" => Ok(EngineKind::Library),
            "cli" => Ok(EngineKind::Cli),
            other => Err(format!("unknown OCR engine {other:?} (lib or cli)")),
        }
    }
}

/// How Tesseract reads.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Tesseract's language models, `+`-joined.
    pub languages: String,
    /// Page segmentation mode: 6 (one uniform block of text) suits receipts
    /// and cash-book pages, whose columns belong to the same lines.
    pub psm: u8,
    /// Where the `.traineddata` files are (Tesseract's default when unset).
    pub tessdata: Option<PathBuf>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions { languages: "ind+eng".to_owned(), psm: 6, tessdata: None }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    #[error("tesseract could not start: {0} (are tesseract-ocr and its ind/eng models installed? deploy/system-packages.sh installs them)")]
    Init(String),
    #[error("tesseract failed: {0}")]
    Recognize(String),
}

/// Reads the text of a prepared page.
pub trait Recognizer: Send {
    fn recognize(&mut self, image: &GrayImage) -> Result<Page, OcrError>;
}

/// Tesseract parallelises its network with OpenMP, asking for more threads
/// than a small machine has cores; the threads then spend their time
/// waking each other (a receipt took 4.6 s, 2.7 of them in the kernel,
/// instead of 0.9 s). libgomp reads `OMP_THREAD_LIMIT` once, when the
/// program is loaded, before `main`: so when it is not set, the program
/// runs itself again with it set to 1. Each engine then uses one core; the
/// `ocr` job runs `ocr_workers` engines side by side instead. Call first
/// thing in `main`; returns only when the limit is in force (or the program
/// cannot be run again, which is logged by the caller).
pub fn limit_threads() -> std::io::Result<()> {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("OMP_THREAD_LIMIT").is_some() {
        return Ok(());
    }
    let exe = std::env::current_exe()?;
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new(exe);
    if let Some(name) = args.next() {
        command.arg0(name);
    }
    Err(command.args(args).env("OMP_THREAD_LIMIT", "1").exec())
}

/// Starts an engine of the given kind.
pub fn open(kind: EngineKind, options: &EngineOptions) -> Result<Box<dyn Recognizer>, OcrError> {
    Ok(match kind {
        EngineKind::Library => Box::new(Library::new(options)?),
        EngineKind::Cli => Box::new(Cli::new(options)?),
    })
}

fn psm(mode: u8) -> tesseract::PageSegMode {
    use tesseract::PageSegMode::*;
    match mode {
        3 => PsmAuto,
        4 => PsmSingleColumn,
        11 => PsmSparseText,
        _ => PsmSingleBlock,
    }
}

/// Tesseract's library, model loaded once.
pub struct Library {
    api: Option<tesseract::Tesseract>,
    options: EngineOptions,
}

impl Library {
    pub fn new(options: &EngineOptions) -> Result<Self, OcrError> {
        Ok(Library { api: Some(Self::start(options)?), options: options.clone() })
    }

    fn start(options: &EngineOptions) -> Result<tesseract::Tesseract, OcrError> {
        let datapath = options.tessdata.as_ref().map(|p| p.to_string_lossy().into_owned());
        let api = tesseract::Tesseract::new(datapath.as_deref(), Some(&options.languages)).map_err(|e| OcrError::Init(e.to_string()))?;
        // Its diagnostics ("Image too small to scale!!") go to stderr
        // otherwise, between the job's structured log lines.
        let mut api = api.set_variable("debug_file", "/dev/null").map_err(|e| OcrError::Init(e.to_string()))?;
        api.set_page_seg_mode(psm(options.psm));
        Ok(api)
    }
}

impl Recognizer for Library {
    fn recognize(&mut self, image: &GrayImage) -> Result<Page, OcrError> {
        let (width, height) = image.dimensions();
        let api = match self.api.take() {
            Some(api) => api,
            None => Self::start(&self.options)?,
        };
        // A failed call consumes the engine: the next page starts a new one.
        let api = api.set_frame(image.as_raw(), width as i32, height as i32, 1, width as i32).map_err(|e| OcrError::Recognize(e.to_string()))?;
        let mut api = api.set_source_resolution(300).recognize().map_err(|e| OcrError::Recognize(e.to_string()))?;
        let tsv = api.get_tsv_text(0).map_err(|e| OcrError::Recognize(e.to_string()));
        self.api = Some(api);
        Ok(Page::from_tsv(&tsv?, width, height))
    }
}

/// The `tesseract` program, a process per page; the page goes in on stdin as PGM.
pub struct Cli {
    options: EngineOptions,
}

impl Cli {
    pub fn new(options: &EngineOptions) -> Result<Self, OcrError> {
        let out = Command::new("tesseract").arg("--list-langs").output().map_err(|e| OcrError::Init(format!("tesseract: {e}")))?;
        let listed = String::from_utf8_lossy(&out.stdout).into_owned();
        for lang in options.languages.split('+') {
            if !listed.lines().any(|l| l.trim() == lang) {
                return Err(OcrError::Init(format!("the {lang} model is not installed")));
            }
        }
        Ok(Cli { options: options.clone() })
    }
}

impl Recognizer for Cli {
    fn recognize(&mut self, image: &GrayImage) -> Result<Page, OcrError> {
        let (width, height) = image.dimensions();
        let mut command = Command::new("tesseract");
        command.args(["stdin", "stdout", "-l", &self.options.languages, "--psm", &self.options.psm.to_string(), "--dpi", "300"]);
        if let Some(dir) = &self.options.tessdata {
            command.arg("--tessdata-dir").arg(dir);
        }
        let mut child = command.arg("tsv").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(|e| OcrError::Init(format!("tesseract: {e}")))?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        let header = format!("P5\n{width} {height}\n255\n");
        let pixels = image.as_raw().clone();
        // Write from another thread so a full stdout pipe cannot stall us.
        let writer = std::thread::spawn(move || stdin.write_all(header.as_bytes()).and_then(|_| stdin.write_all(&pixels)));
        let out = child.wait_with_output().map_err(|e| OcrError::Recognize(e.to_string()))?;
        let _ = writer.join();
        if !out.status.success() {
            return Err(OcrError::Recognize(String::from_utf8_lossy(&out.stderr).trim().to_owned()));
        }
        Ok(Page::from_tsv(&String::from_utf8_lossy(&out.stdout), width, height))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_names_parse() {
        assert_eq!("lib".parse::<EngineKind>(), Ok(EngineKind::Library));
        assert_eq!("cli".parse::<EngineKind>(), Ok(EngineKind::Cli));
        assert!("gpu".parse::<EngineKind>().is_err());
    }
}
