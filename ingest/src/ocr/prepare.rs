//! From uploaded bytes to a clean grayscale page for the recogniser: the
//! format is sniffed (JPEG, PNG, WebP), the size is checked *before*
//! decoding (a 30,000 × 30,000 image is refused, not allocated), the EXIF
//! orientation is applied, the text is scaled to the height Tesseract reads
//! best (small photos up, large scans down), the skew is measured and
//! undone, and uneven lighting (a phone photo's shadow) is flattened by
//! adaptive binarisation.

use std::io::Cursor;

use image::{DynamicImage, GrayImage, ImageDecoder, ImageReader, Luma};
use imageproc::contrast::{adaptive_threshold, otsu_level};
use imageproc::geometric_transformations::{rotate_about_center, Border, Interpolation};

/// Why an upload is not a readable picture. [`ImageError::code`] is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("the file is empty")]
    Empty,
    #[error("not an image (JPEG, PNG or WebP expected)")]
    NotAnImage,
    #[error("the image has no pixels")]
    NoPixels,
    #[error("the image is {width} × {height} pixels; at most {max_pixels} pixels and {max_side} on a side are read")]
    TooLarge { width: u32, height: u32, max_pixels: u64, max_side: u32 },
    #[error("the image is damaged or cut short: {0}")]
    Corrupt(String),
    #[error("the image is blank: nothing is written on it")]
    Blank,
}

impl ImageError {
    pub fn code(&self) -> &'static str {
        match self {
            ImageError::Empty => "empty",
            ImageError::NotAnImage => "not_an_image",
            ImageError::NoPixels => "empty_image",
            ImageError::TooLarge { .. } => "too_large",
            ImageError::Corrupt(_) => "corrupt_image",
            ImageError::Blank => "blank_image",
        }
    }
}

/// How to prepare.
#[derive(Debug, Clone, Copy)]
pub struct PrepareOptions {
    /// Largest decoded size accepted (width × height).
    pub max_pixels: u64,
    /// Longest side accepted.
    pub max_side: u32,
    /// Height in pixels the median character is scaled to.
    pub char_height: f32,
    pub binarize: Binarize,
    pub deskew: bool,
}

impl Default for PrepareOptions {
    fn default() -> Self {
        PrepareOptions { max_pixels: 50_000_000, max_side: 12_000, char_height: 20.0, binarize: Binarize::Auto, deskew: true }
    }
}

/// When to binarise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binarize {
    Never,
    /// When the paper's brightness varies across the picture (shadows, a
    /// lamp's glare); Tesseract reads evenly lit grayscale better as it is.
    Auto,
    Always,
}

/// A page ready for the recogniser, and what was done to it.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub image: GrayImage,
    /// Size of the upload as decoded (after the EXIF rotation).
    pub original: (u32, u32),
    /// The factor the image was scaled by.
    pub scale: f32,
    /// The skew that was undone, in degrees.
    pub skew_degrees: f32,
    pub binarized: bool,
}

/// Decodes and prepares an upload; see the module documentation.
pub fn prepare(bytes: &[u8], options: &PrepareOptions) -> Result<Prepared, ImageError> {
    let mut gray = decode(bytes, options)?;
    let original = gray.dimensions();
    // Measure the writing on a small copy.
    let (mut probe, mut probe_scale) = shrink(&gray, 1600);
    if whiten_background(&mut gray, &probe, probe_scale) {
        (probe, probe_scale) = shrink(&gray, 1600);
    }
    let level = otsu_level(&probe);
    let ink = probe.pixels().filter(|p| p.0[0] <= level).count();
    if ink == 0 || contrast(&probe) < 24 {
        return Err(ImageError::Blank);
    }
    let char_height = median_char_height(&probe, level).map(|h| h / probe_scale);
    stretch_faint_ink(&mut gray);
    let mut scale = char_height.map_or(1.0, |h| (options.char_height / h).clamp(0.25, 4.0));
    // Never hand the recogniser more than ~16 Mpx.
    let pixels = original.0 as f32 * original.1 as f32 * scale * scale;
    if pixels > 16e6 {
        scale *= (16e6 / pixels).sqrt();
    }
    let mut image = if (scale - 1.0).abs() > 0.1 {
        let (w, h) = ((original.0 as f32 * scale).round().max(1.0) as u32, (original.1 as f32 * scale).round().max(1.0) as u32);
        image::imageops::resize(&gray, w, h, if scale > 1.0 { image::imageops::FilterType::CatmullRom } else { image::imageops::FilterType::Triangle })
    } else {
        scale = 1.0;
        gray
    };
    let mut skew_degrees = 0.0;
    if options.deskew {
        let (probe, _) = shrink(&image, 1000);
        let angle = skew(&probe, otsu_level(&probe));
        if angle.abs() >= 0.3 {
            image = rotate_about_center(&image, -angle.to_radians(), Interpolation::Bilinear, Border::Constant(Luma([255])));
            skew_degrees = angle;
        }
    }
    let binarized = match options.binarize {
        Binarize::Never => false,
        Binarize::Always => true,
        Binarize::Auto => uneven_lighting(&image),
    };
    if binarized {
        let radius = (options.char_height * 1.5).round().max(8.0) as u32;
        image = adaptive_threshold(&image, radius, 10);
    }
    Ok(Prepared { image, original, scale, skew_degrees, binarized })
}

/// What can be told from the header alone, without decoding: a picture
/// of a format we read, with pixels, not too large. Returns its size.
pub fn inspect(bytes: &[u8], options: &PrepareOptions) -> Result<(u32, u32), ImageError> {
    let (_, width, height) = open_decoder(bytes, options)?;
    Ok((width, height))
}

fn open_decoder<'a>(bytes: &'a [u8], options: &PrepareOptions) -> Result<(impl ImageDecoder + 'a, u32, u32), ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    let format = image::guess_format(bytes).map_err(|_| ImageError::NotAnImage)?;
    if !matches!(format, image::ImageFormat::Jpeg | image::ImageFormat::Png | image::ImageFormat::WebP) {
        return Err(ImageError::NotAnImage);
    }
    if format == image::ImageFormat::Jpeg && !jpeg_is_whole(bytes) {
        return Err(ImageError::Corrupt("the JPEG data ends before its end-of-image marker".to_owned()));
    }
    let reader = ImageReader::with_format(Cursor::new(bytes), format);
    let decoder = reader.into_decoder().map_err(|e| ImageError::Corrupt(e.to_string()))?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(ImageError::NoPixels);
    }
    if width as u64 * height as u64 > options.max_pixels || width.max(height) > options.max_side {
        return Err(ImageError::TooLarge { width, height, max_pixels: options.max_pixels, max_side: options.max_side });
    }
    Ok((decoder, width, height))
}

/// The media type of a picture arus reads (JPEG, PNG, WebP), from its first bytes.
pub fn image_mime(bytes: &[u8]) -> Option<&'static str> {
    match image::guess_format(bytes).ok()? {
        image::ImageFormat::Jpeg => Some("image/jpeg"),
        image::ImageFormat::Png => Some("image/png"),
        image::ImageFormat::WebP => Some("image/webp"),
        _ => None,
    }
}

/// Whether a JPEG's last scan is followed by its end-of-image marker. The
/// decoder fills a file cut short with grey and reports nothing, so an
/// upload that stopped halfway would be read as half a receipt. (A marker
/// cannot occur inside scan data, where a 0xFF byte is always followed by
/// 0x00 or a restart marker.)
fn jpeg_is_whole(bytes: &[u8]) -> bool {
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    last_scan.is_some_and(|at| bytes[at..].windows(2).any(|w| w == [0xFF, 0xD9]))
}

/// Sniffs, checks the declared size, decodes, applies the EXIF orientation
/// and makes it gray.
pub fn decode(bytes: &[u8], options: &PrepareOptions) -> Result<GrayImage, ImageError> {
    let (mut decoder, width, height) = open_decoder(bytes, options)?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(options.max_side);
    limits.max_image_height = Some(options.max_side);
    limits.max_alloc = Some(options.max_pixels * 4 + (64 << 20));
    decoder.set_limits(limits).map_err(|e| ImageError::Corrupt(e.to_string()))?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut decoded = DynamicImage::from_decoder(decoder).map_err(|e| match e {
        image::ImageError::Limits(_) => ImageError::TooLarge { width, height, max_pixels: options.max_pixels, max_side: options.max_side },
        other => ImageError::Corrupt(other.to_string()),
    })?;
    decoded.apply_orientation(orientation);
    Ok(decoded.to_luma8())
}

/// Dark regions that touch the picture's edge and are large — a torn edge
/// scanned against a black lid, the table under a photographed receipt —
/// are not writing, but they decide a global threshold (Tesseract's and
/// ours) between themselves and the paper, and faint print falls on the
/// paper's side and disappears. They are painted the paper's colour
/// (paper in a shadow is grey, not black, and keeps its writing).
/// Returns whether anything was painted.
fn whiten_background(gray: &mut GrayImage, probe: &GrayImage, probe_scale: f32) -> bool {
    use imageproc::region_labelling::{connected_components, Connectivity};
    let (pw, ph) = probe.dimensions();
    let level = otsu_level(probe);
    let dark = GrayImage::from_fn(pw, ph, |x, y| Luma([u8::from(probe.get_pixel(x, y).0[0] <= level) * 255]));
    let labels = connected_components(&dark, Connectivity::Eight, Luma([0u8]));
    // Per region: area, sum of brightness, whether it touches the edge.
    let mut regions: std::collections::HashMap<u32, (u64, u64, bool)> = std::collections::HashMap::new();
    for (x, y, label) in labels.enumerate_pixels() {
        if label.0[0] != 0 {
            let region = regions.entry(label.0[0]).or_insert((0, 0, false));
            region.0 += 1;
            region.1 += u64::from(probe.get_pixel(x, y).0[0]);
            region.2 |= x == 0 || y == 0 || x == pw - 1 || y == ph - 1;
        }
    }
    let min_area = u64::from(pw) * u64::from(ph) / 200;
    let mut light: Vec<u8> = probe.pixels().map(|p| p.0[0]).filter(|&v| v > level).collect();
    let paper = if light.is_empty() {
        255
    } else {
        let middle = light.len() / 2;
        *light.select_nth_unstable(middle).1
    };
    // Paper in a shadow is dark too, but grey, not black: it keeps its writing.
    let black = u64::from(paper) / 3;
    let background: std::collections::HashSet<u32> =
        regions.iter().filter(|(_, &(area, sum, edge))| edge && area >= min_area && sum / area < black).map(|(&l, _)| l).collect();
    if background.is_empty() {
        return false;
    }
    // The mask, grown by a pixel so the region's blurred rim goes too.
    let mut mask = vec![false; (pw * ph) as usize];
    for (x, y, label) in labels.enumerate_pixels() {
        if background.contains(&label.0[0]) {
            for ny in y.saturating_sub(1)..=(y + 1).min(ph - 1) {
                for nx in x.saturating_sub(1)..=(x + 1).min(pw - 1) {
                    mask[(ny * pw + nx) as usize] = true;
                }
            }
        }
    }
    for (x, y, p) in gray.enumerate_pixels_mut() {
        let (px, py) = (((x as f32 * probe_scale) as u32).min(pw - 1), ((y as f32 * probe_scale) as u32).min(ph - 1));
        if mask[(py * pw + px) as usize] {
            p.0[0] = paper;
        }
    }
    true
}

/// Makes faint print black on white paper. A faded thermal receipt (its
/// darkest ink 176 of 255) otherwise defeats Tesseract's own thresholding
/// and reads as nothing. Only faint print is stretched: on a well-printed
/// page it changes nothing useful and clips the paper's grain into specks.
fn stretch_faint_ink(image: &mut GrayImage) {
    let histogram = Histogram::of(image);
    let (ink, paper) = (histogram.percentile(0.005), histogram.percentile(0.5));
    if ink < 96 || paper < 150 || paper.saturating_sub(ink) < 24 {
        return;
    }
    let span = f32::from(paper - ink);
    let map: Vec<u8> = (0..=255u8).map(|v| ((f32::from(v.saturating_sub(ink)) * 255.0 / span).round()).min(255.0) as u8).collect();
    for p in image.pixels_mut() {
        p.0[0] = map[p.0[0] as usize];
    }
}

/// A copy whose longest side is at most `max_side`, and the factor used.
fn shrink(image: &GrayImage, max_side: u32) -> (GrayImage, f32) {
    let (w, h) = image.dimensions();
    let longest = w.max(h);
    if longest <= max_side {
        return (image.clone(), 1.0);
    }
    let factor = max_side as f32 / longest as f32;
    let size = |v: u32| ((v as f32 * factor).round() as u32).max(1);
    (image::imageops::resize(image, size(w), size(h), image::imageops::FilterType::Triangle), factor)
}

/// Spread between the dark and the light end of the picture.
fn contrast(image: &GrayImage) -> u8 {
    let histogram = Histogram::of(image);
    histogram.percentile(0.99).saturating_sub(histogram.percentile(0.01))
}

/// How many pixels have each grey level.
struct Histogram([u64; 256]);

impl Histogram {
    fn of(image: &GrayImage) -> Self {
        let mut counts = [0u64; 256];
        for p in image.pixels() {
            counts[p.0[0] as usize] += 1;
        }
        Histogram(counts)
    }

    /// The grey level below which a share `q` of the pixels lie.
    fn percentile(&self, q: f64) -> u8 {
        let target = (self.0.iter().sum::<u64>() as f64 * q) as u64;
        let mut seen = 0;
        self.0
            .iter()
            .position(|&n| {
                seen += n;
                seen > target
            })
            .map_or(255, |v| v as u8)
    }
}

/// Median height of the blobs of ink that look like characters.
fn median_char_height(image: &GrayImage, level: u8) -> Option<f32> {
    let (w, h) = image.dimensions();
    let ink = GrayImage::from_fn(w, h, |x, y| Luma([u8::from(image.get_pixel(x, y).0[0] <= level) * 255]));
    let labels = imageproc::region_labelling::connected_components(&ink, imageproc::region_labelling::Connectivity::Eight, Luma([0u8]));
    let mut boxes: std::collections::HashMap<u32, (u32, u32, u32, u32, u32)> = std::collections::HashMap::new();
    for (x, y, label) in labels.enumerate_pixels() {
        let label = label.0[0];
        if label == 0 {
            continue;
        }
        let b = boxes.entry(label).or_insert((x, y, x, y, 0));
        b.0 = b.0.min(x);
        b.1 = b.1.min(y);
        b.2 = b.2.max(x);
        b.3 = b.3.max(y);
        b.4 += 1;
    }
    let mut heights: Vec<u32> = boxes
        .values()
        .filter_map(|&(x0, y0, x1, y1, area)| {
            let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
            (bh >= 4 && bh <= h / 10 && bw <= 3 * bh && area >= 6).then_some(bh)
        })
        .collect();
    if heights.len() < 10 {
        return None;
    }
    heights.sort_unstable();
    Some(heights[heights.len() / 2] as f32)
}

/// The text's skew in degrees (positive: lines fall to the right), found
/// as the shear that makes the rows of ink sharpest.
fn skew(image: &GrayImage, level: u8) -> f32 {
    let (w, h) = image.dimensions();
    let points: Vec<(f32, u32)> = image.enumerate_pixels().filter(|(_, _, p)| p.0[0] <= level).map(|(x, y, _)| (x as f32 - w as f32 / 2.0, y)).collect();
    if points.len() < 100 {
        return 0.0;
    }
    let sharpness = |degrees: f32| {
        let t = degrees.to_radians().tan();
        let mut rows = vec![0u32; (h as usize) * 2 + 1];
        let offset = h as f32 / 2.0;
        for &(x, y) in &points {
            let row = (y as f32 - x * t + offset).round();
            if row >= 0.0 && (row as usize) < rows.len() {
                rows[row as usize] += 1;
            }
        }
        rows.windows(2).map(|p| (p[1] as f64 - p[0] as f64).powi(2)).sum::<f64>()
    };
    let search = |from: f32, to: f32, step: f32| {
        let mut best = (f64::MIN, 0.0f32);
        let mut a = from;
        while a <= to + 1e-6 {
            let s = sharpness(a);
            if s > best.0 {
                best = (s, a);
            }
            a += step;
        }
        best.1
    };
    let coarse = search(-8.0, 8.0, 0.5);
    let fine = search(coarse - 0.5, coarse + 0.5, 0.1);
    // No real preference over upright: keep it upright.
    if sharpness(fine) < sharpness(0.0) * 1.02 { 0.0 } else { fine }
}

/// Whether the paper's brightness varies much across the picture: the
/// bright end of each tile is the paper there.
fn uneven_lighting(image: &GrayImage) -> bool {
    let (w, h) = image.dimensions();
    // Tiles of a dark scanner lid or table around the paper are not paper:
    // paper is well above the darkest ink.
    let level = {
        let mut histogram = [0u64; 256];
        for p in image.pixels().step_by(7) {
            histogram[p.0[0] as usize] += 1;
        }
        let target = histogram.iter().sum::<u64>() / 50;
        let mut seen = 0;
        histogram.iter().position(|&n| {
            seen += n;
            seen > target
        }).unwrap_or(0) as u8
    }
    .saturating_add(50);
    let tile = (w.max(h) / 8).max(32);
    let mut papers = Vec::new();
    for ty in (0..h).step_by(tile as usize) {
        for tx in (0..w).step_by(tile as usize) {
            let mut histogram = [0u32; 256];
            let mut n = 0;
            for y in (ty..(ty + tile).min(h)).step_by(2) {
                for x in (tx..(tx + tile).min(w)).step_by(2) {
                    histogram[image.get_pixel(x, y).0[0] as usize] += 1;
                    n += 1;
                }
            }
            if n < 16 {
                continue;
            }
            let mut seen = 0;
            let target = n * 9 / 10;
            if let Some(v) = histogram.iter().position(|&c| {
                seen += c;
                seen > target
            }) {
                if v as u8 > level {
                    papers.push(v as u8);
                }
            }
        }
    }
    let (Some(&lo), Some(&hi)) = (papers.iter().min(), papers.iter().max()) else { return false };
    hi as f32 > 1.6 * lo.max(1) as f32 && hi - lo > 70
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(image: &GrayImage) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Png).expect("png");
        out.into_inner()
    }

    fn jpeg(image: &GrayImage) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Jpeg).expect("jpeg");
        out.into_inner()
    }

    /// A page of dark bars of `height` px, like lines of text.
    fn page(width: u32, height: u32, char_height: u32) -> GrayImage {
        GrayImage::from_fn(width, height, |x, y| {
            let line = y / (char_height * 2);
            let in_line = y % (char_height * 2) < char_height;
            let in_char = (x / (char_height * 2 / 3).max(1)).is_multiple_of(2);
            Luma([if line.is_multiple_of(2) && in_line && in_char && x > 10 && x < width - 10 { 20 } else { 235 }])
        })
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        let options = PrepareOptions::default();
        assert_eq!(prepare(b"", &options).unwrap_err(), ImageError::Empty);
        assert_eq!(prepare(b"%PDF-1.7 not a picture", &options).unwrap_err(), ImageError::NotAnImage);
        let good = png(&page(300, 200, 12));
        assert!(matches!(prepare(&good[..good.len() / 2], &options).unwrap_err(), ImageError::Corrupt(_)));
        let jpeg = jpeg(&page(300, 200, 12));
        assert!(prepare(&jpeg, &options).is_ok());
        assert!(matches!(prepare(&jpeg[..jpeg.len() * 2 / 3], &options).unwrap_err(), ImageError::Corrupt(_)), "a JPEG cut short");
        let blank = png(&GrayImage::from_pixel(300, 200, Luma([250])));
        assert_eq!(prepare(&blank, &options).unwrap_err(), ImageError::Blank);
    }

    #[test]
    fn faded_ink_is_darkened_and_good_print_left_alone() {
        let faded = GrayImage::from_fn(200, 100, |x, y| Luma([if (x / 5 + y / 5) % 7 == 0 { 176 } else { 250 }]));
        let mut stretched = faded.clone();
        stretch_faint_ink(&mut stretched);
        assert_eq!((stretched.get_pixel(0, 0).0[0], stretched.get_pixel(5, 0).0[0]), (0, 255));
        let printed = GrayImage::from_fn(200, 100, |x, y| Luma([if (x / 5 + y / 5) % 7 == 0 { 30 } else { 240 }]));
        let mut same = printed.clone();
        stretch_faint_ink(&mut same);
        assert_eq!(same, printed);
    }

    #[test]
    fn a_black_edge_is_painted_paper_but_writing_is_not() {
        // Paper with faint bars of "text", a black torn edge along the top.
        let mut photo = GrayImage::from_fn(400, 300, |x, y| Luma([if y < 30 { 5 } else if (y / 10) % 3 == 0 && (x / 6) % 2 == 0 && x > 20 && x < 380 { 150 } else { 240 }]));
        let (probe, scale) = shrink(&photo, 1600);
        assert!(whiten_background(&mut photo, &probe, scale));
        assert!(photo.get_pixel(200, 5).0[0] > 200, "the edge is paper now");
        assert_eq!(photo.get_pixel(24, 60).0[0], 150, "the writing stays");
        let (probe, scale) = shrink(&photo, 1600);
        assert!(!whiten_background(&mut photo, &probe, scale), "nothing more to paint");
    }

    #[test]
    fn size_is_checked_before_decoding() {
        // A 30,000 × 30,000 PNG header: refused from its dimensions alone.
        let mut options = PrepareOptions::default();
        let bomb = png(&GrayImage::from_pixel(3000, 3000, Luma([255])));
        options.max_side = 2000;
        assert!(matches!(prepare(&bomb, &options).unwrap_err(), ImageError::TooLarge { width: 3000, height: 3000, .. }));
    }

    #[test]
    fn small_text_is_scaled_up_and_large_text_down() {
        let options = PrepareOptions::default();
        let small = prepare(&png(&page(400, 300, 8)), &options).expect("small");
        assert!(small.scale > 2.0, "{}", small.scale);
        let large = prepare(&png(&page(1200, 900, 60)), &options).expect("large");
        assert!(large.scale < 0.5, "{}", large.scale);
    }

    #[test]
    fn skew_is_measured_and_undone() {
        let upright = page(800, 600, 14);
        let tilted = rotate_about_center(&upright, 3.0f32.to_radians(), Interpolation::Bilinear, Border::Constant(Luma([235])));
        let p = prepare(&png(&tilted), &PrepareOptions { binarize: Binarize::Never, ..PrepareOptions::default() }).expect("tilted");
        assert!((p.skew_degrees - 3.0).abs() < 0.5, "{}", p.skew_degrees);
        let p = prepare(&png(&upright), &PrepareOptions::default()).expect("upright");
        assert_eq!(p.skew_degrees, 0.0);
    }

    #[test]
    fn a_shadow_makes_it_binarise() {
        let upright = page(800, 600, 14);
        let shadowed = GrayImage::from_fn(800, 600, |x, y| {
            let base = upright.get_pixel(x, y).0[0] as f32;
            let light = if x < 400 { 1.0 } else { 0.45 };
            Luma([(base * light) as u8])
        });
        let p = prepare(&png(&shadowed), &PrepareOptions::default()).expect("shadowed");
        assert!(p.binarized);
        assert!(p.image.pixels().all(|q| q.0[0] == 0 || q.0[0] == 255));
        let even = prepare(&png(&page(800, 600, 14)), &PrepareOptions::default()).expect("even");
        assert!(!even.binarized);
    }
}
