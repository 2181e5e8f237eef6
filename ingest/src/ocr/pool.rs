//! A fixed number of OCR engines on their own threads, off the async
//! reactor: a page waits for a free engine (bounded concurrency), and each
//! engine keeps its loaded model between pages.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::engine::{self, EngineKind, EngineOptions, OcrError};
use super::prepare::PrepareOptions;
use super::{read, ReadError, Reading};

struct Job {
    bytes: Vec<u8>,
    reply: oneshot::Sender<Result<Reading, ReadError>>,
}

/// Engines on threads; cloning shares them.
#[derive(Clone)]
pub struct OcrPool {
    jobs: mpsc::SyncSender<Job>,
    size: usize,
}

impl OcrPool {
    /// Starts `size` engines (each loads its model now, so a missing model
    /// is reported here, not on the first photo).
    pub fn start(size: usize, kind: EngineKind, options: &EngineOptions, prepare: PrepareOptions) -> Result<Self, OcrError> {
        let size = size.max(1);
        let (jobs, queue) = mpsc::sync_channel::<Job>(size);
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..size {
            let mut recognizer = engine::open(kind, options)?;
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("ocr-{n}"))
                .spawn(move || loop {
                    let job = match queue.lock() {
                        Ok(q) => q.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read(&job.bytes, recognizer.as_mut(), &prepare)))
                        .unwrap_or_else(|_| Err(ReadError::Ocr(OcrError::Recognize("the OCR engine panicked on this image".to_owned()))));
                    let _ = job.reply.send(result);
                })
                .map_err(|e| OcrError::Init(e.to_string()))?;
        }
        Ok(OcrPool { jobs, size })
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Reads one photo on a free engine.
    pub async fn read(&self, bytes: Vec<u8>) -> Result<Reading, ReadError> {
        let (reply, answer) = oneshot::channel();
        let jobs = self.jobs.clone();
        // The queue holds `size` pages; a full queue blocks, so hand it over off the reactor.
        tokio::task::spawn_blocking(move || jobs.send(Job { bytes, reply }))
            .await
            .map_err(|e| ReadError::Ocr(OcrError::Recognize(e.to_string())))?
            .map_err(|_| ReadError::Ocr(OcrError::Recognize("the OCR engines have stopped".to_owned())))?;
        answer.await.map_err(|_| ReadError::Ocr(OcrError::Recognize("the OCR engine stopped while reading".to_owned())))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocr::prepare::ImageError;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pages_go_to_the_engines_and_answers_come_back() {
        let pool = OcrPool::start(2, EngineKind::Library, &EngineOptions::default(), PrepareOptions::default()).expect("tesseract with ind+eng (deploy/system-packages.sh)");
        assert_eq!(pool.size(), 2);
        // More pages than engines at once: each gets its own answer.
        let pages: Vec<Vec<u8>> = vec![Vec::new(), b"%PDF-1.7".to_vec(), Vec::new(), b"GIF89a".to_vec()];
        let answers = futures::future::join_all(pages.into_iter().map(|p| pool.read(p))).await;
        let codes: Vec<&str> = answers.iter().map(|a| a.as_ref().map(|_| "read").unwrap_or_else(|e| e.code())).collect();
        assert_eq!(codes, vec!["empty", "not_an_image", "empty", "not_an_image"]);
        assert!(matches!(answers[0], Err(ReadError::Image(ImageError::Empty))));
        // A real receipt, when the dev data is there.
        let photo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/receipts-sroie-dev/img/400.jpg");
        match std::fs::read(&photo) {
            Ok(bytes) => {
                let reading = pool.read(bytes).await.expect("a readable receipt");
                assert!(reading.page.lines.len() > 10, "{:?}", reading.page.text());
                assert!(reading.page.text().to_uppercase().contains("TOTAL"));
            }
            Err(_) => eprintln!("skipping the receipt photo: {} is absent", photo.display()),
        }
    }
}
