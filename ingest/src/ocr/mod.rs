//! Photos of receipts and cash-book pages to transactions: the image is
//! prepared ([`prepare`]), read by Tesseract ([`engine`]) into lines with
//! their boxes and confidences ([`Page`]), and parsed ([`receipt`],
//! [`cashbook`]) into fields that each carry a confidence. An optional
//! vision model ([`vision`]) is asked when Tesseract's reading is poor.
//! [`eval`] scores all of it on labelled receipts.

pub mod amounts;
pub mod booking;
pub mod cashbook;
pub mod engine;
pub mod eval;
pub mod pool;
pub mod prepare;
pub mod receipt;
pub mod vision;

use serde::{Deserialize, Serialize};

/// A rectangle in the prepared image's pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BBox {
    pub left: u32,
    pub top: u32,
    pub width: u32,
    pub height: u32,
}

impl BBox {
    pub fn right(&self) -> u32 {
        self.left + self.width
    }

    pub fn bottom(&self) -> u32 {
        self.top + self.height
    }

    /// The smallest box holding both.
    pub fn union(&self, other: &BBox) -> BBox {
        let left = self.left.min(other.left);
        let top = self.top.min(other.top);
        BBox { left, top, width: self.right().max(other.right()) - left, height: self.bottom().max(other.bottom()) - top }
    }
}

/// One recognised word.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub text: String,
    /// 0–1, as the recogniser reports it.
    pub confidence: f32,
    pub bbox: BBox,
}

/// One line of text. `text` keeps the layout's gaps: words far apart (a
/// label and its amount in another column) are separated by three spaces,
/// neighbours by one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub text: String,
    /// 0–1: the mean of the words' confidences weighted by their length;
    /// 1 for text that did not come from a recogniser.
    pub confidence: f32,
    pub bbox: Option<BBox>,
    pub words: Vec<Word>,
}

impl Line {
    /// A line of known text (typed, or OCR text from elsewhere).
    pub fn plain(text: &str) -> Line {
        Line { text: text.trim_end().to_owned(), confidence: 1.0, bbox: None, words: Vec::new() }
    }

    /// A line from recognised words in reading order.
    pub fn from_words(words: Vec<Word>) -> Line {
        let mut text = String::new();
        // A gap wider than about two characters separates columns.
        let chars: usize = words.iter().map(|w| w.text.chars().count()).sum();
        let inked: u32 = words.iter().map(|w| w.bbox.width).sum();
        let char_width = if chars > 0 { inked as f32 / chars as f32 } else { 10.0 };
        for (i, word) in words.iter().enumerate() {
            if i > 0 {
                let gap = word.bbox.left.saturating_sub(words[i - 1].bbox.right()) as f32;
                text.push_str(if gap > 2.0 * char_width { "   " } else { " " });
            }
            text.push_str(&word.text);
        }
        let weight: usize = words.iter().map(|w| w.text.chars().count().max(1)).sum();
        let confidence = if words.is_empty() {
            0.0
        } else {
            words.iter().map(|w| w.confidence * w.text.chars().count().max(1) as f32).sum::<f32>() / weight as f32
        };
        let bbox = words.iter().map(|w| w.bbox).reduce(|a, b| a.union(&b));
        Line { text, confidence, bbox, words }
    }
}

/// What the recogniser read on one image.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Page {
    pub lines: Vec<Line>,
    /// Size of the image the boxes refer to (0 for plain text).
    pub width: u32,
    pub height: u32,
}

impl Page {
    /// Lines of plain text, confidence 1, no boxes (the parser alone).
    pub fn from_text(text: &str) -> Page {
        Page { lines: text.lines().filter(|l| !l.trim().is_empty()).map(Line::plain).collect(), width: 0, height: 0 }
    }

    /// Tesseract's TSV output (`level page block par line word left top
    /// width height conf text`): words grouped into lines in reading order.
    pub fn from_tsv(tsv: &str, width: u32, height: u32) -> Page {
        let mut lines = Vec::new();
        let mut current: Option<(u32, u32, u32)> = None;
        let mut words = Vec::new();
        for row in tsv.lines().skip(1) {
            let cols: Vec<&str> = row.splitn(12, '\t').collect();
            if cols.len() < 12 || cols[0] != "5" {
                continue;
            }
            let num = |i: usize| cols[i].trim().parse::<u32>().unwrap_or(0);
            let text = cols[11].trim();
            if text.is_empty() {
                continue;
            }
            let key = (num(2), num(3), num(4));
            if current != Some(key) && !words.is_empty() {
                lines.push(Line::from_words(std::mem::take(&mut words)));
            }
            current = Some(key);
            let confidence = cols[10].trim().parse::<f32>().unwrap_or(0.0).clamp(0.0, 100.0) / 100.0;
            words.push(Word { text: text.to_owned(), confidence, bbox: BBox { left: num(6), top: num(7), width: num(8), height: num(9) } });
        }
        if !words.is_empty() {
            lines.push(Line::from_words(words));
        }
        Page { lines, width, height }
    }

    /// Mean confidence over the page's characters (0 for an empty page).
    pub fn confidence(&self) -> f32 {
        let (sum, n) = self.lines.iter().fold((0.0, 0usize), |(s, n), l| {
            let c = l.text.chars().filter(|c| !c.is_whitespace()).count();
            (s + l.confidence * c as f32, n + c)
        });
        if n == 0 { 0.0 } else { sum / n as f32 }
    }

    /// The page as text, one line per line.
    pub fn text(&self) -> String {
        self.lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>().join("\n")
    }
}

/// One photo, read.
#[derive(Debug, Clone)]
pub struct Reading {
    pub page: Page,
    pub receipt: receipt::Receipt,
    pub prepared: PreparedInfo,
}

/// What preparation did (for logs and the receipt's record).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PreparedInfo {
    pub width: u32,
    pub height: u32,
    pub scale: f32,
    pub skew_degrees: f32,
    pub binarized: bool,
}

/// Why a photo could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Image(#[from] prepare::ImageError),
    #[error(transparent)]
    Ocr(#[from] engine::OcrError),
}

impl ReadError {
    pub fn code(&self) -> &'static str {
        match self {
            ReadError::Image(e) => e.code(),
            ReadError::Ocr(_) => "ocr_failed",
        }
    }
}

/// Prepares, recognises and parses one receipt photo.
pub fn read(bytes: &[u8], recognizer: &mut dyn engine::Recognizer, options: &prepare::PrepareOptions) -> Result<Reading, ReadError> {
    let prepared = prepare::prepare(bytes, options)?;
    let page = recognizer.recognize(&prepared.image)?;
    let receipt = receipt::parse(&page);
    let info = PreparedInfo { width: prepared.original.0, height: prepared.original.1, scale: prepared.scale, skew_degrees: prepared.skew_degrees, binarized: prepared.binarized };
    Ok(Reading { page, receipt, prepared: info })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_groups_words_into_lines_and_marks_column_gaps() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
            1\t1\t0\t0\t0\t0\t0\t0\t600\t200\t-1\t\n\
            5\t1\t1\t1\t1\t1\t10\t10\t100\t20\t96.5\tTOTAL\n\
            5\t1\t1\t1\t1\t2\t400\t10\t40\t20\t90\tRM\n\
            5\t1\t1\t1\t1\t3\t450\t10\t100\t20\t80\t12.50\n\
            5\t1\t1\t1\t2\t1\t10\t40\t60\t20\t50\tCASH\n";
        let page = Page::from_tsv(tsv, 600, 200);
        assert_eq!(page.lines.len(), 2);
        assert_eq!(page.lines[0].text, "TOTAL   RM 12.50");
        assert_eq!(page.lines[0].bbox, Some(BBox { left: 10, top: 10, width: 540, height: 20 }));
        let c = page.lines[0].confidence;
        assert!((c - (0.965 * 5.0 + 0.9 * 2.0 + 0.8 * 5.0) / 12.0).abs() < 1e-4, "{c}");
        assert_eq!(page.lines[1].text, "CASH");
        assert_eq!(page.text(), "TOTAL   RM 12.50\nCASH");
    }
}
